"""Dead-letter topic: filters, replay headers, and the list and replay commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from click.testing import CliRunner, Result

from consumers.cli.dlq import dlq
from consumers.ops.dlq import DlqFilter, DlqRecord, read_range, replay_headers


def record(
    offset: int = 5, reason: str | None = "seer_rejected", **headers: str
) -> DlqRecord:
    pairs = [("reason", reason)] if reason is not None else []
    pairs += list(headers.items())
    return DlqRecord(
        topic="dlq",
        partition=1,
        offset=offset,
        timestamp_ms=None,
        key=b"42",
        value=b"raw",
        headers=tuple((k, v.encode()) for k, v in pairs),
    )


def test_filter_by_reason() -> None:
    selection = DlqFilter(reasons=frozenset({"invalid_msgpack"}))
    assert not selection.matches(record(reason="seer_rejected"))
    assert selection.matches(record(reason="invalid_msgpack"))


def test_filter_missing_reason_excluded() -> None:
    assert not DlqFilter(reasons=frozenset({"x"})).matches(record(reason=None))


def test_filter_offsets_inclusive() -> None:
    selection = DlqFilter(from_offset=3, to_offset=5)
    assert [selection.matches(record(offset=o)) for o in (2, 3, 5, 6)] == [
        False,
        True,
        True,
        False,
    ]


def test_read_range_bounds() -> None:
    assert read_range(0, 10, None, DlqFilter()) == (0, 10)
    assert read_range(2, 10, None, DlqFilter(from_offset=1, to_offset=4)) == (2, 5)
    assert read_range(0, 10, 7, DlqFilter(from_offset=3)) == (7, 10)


def test_read_range_empty_when_past_end() -> None:
    start, end = read_range(0, 10, None, DlqFilter(from_offset=12))
    assert start == end


def test_record_coordinates() -> None:
    r = record(original_topic="src", original_partition="3", original_offset="17")
    assert (r.original_topic, r.original_partition, r.original_offset) == ("src", 3, 17)


def test_replay_headers() -> None:
    r = record(
        original_topic="src",
        original_partition="3",
        original_offset="17",
        reason_detail="boom",
        trace="abc",
        dlq_offset="999",
    )
    headers = dict(replay_headers(r))
    assert headers == {
        "trace": b"abc",
        "dlq_original_topic": b"src",
        "dlq_original_partition": b"3",
        "dlq_original_offset": b"17",
        "dlq_reason": b"seer_rejected",
        "dlq_partition": b"1",
        "dlq_offset": b"5",
    }


# The commands, against the broker.


@dataclass(frozen=True)
class DlqSetup:
    dlq_topic: str
    source_topic: str


@pytest.fixture
def dead_letters(
    make_topic: Callable[..., str], produce: Callable[..., int]
) -> DlqSetup:
    """Five dead letters on partition 0 of a DLQ topic, one per record batch.

    Offsets 0, 2, 4 have reason invalid_msgpack; 1 and 3 seer_rejected.
    """
    source = make_topic("source")
    dlq_topic = make_topic("dlq", partitions=2)
    for i in range(5):
        reason = "seer_rejected" if i % 2 else "invalid_msgpack"
        produce(
            dlq_topic,
            f"value-{i}".encode(),
            key=str(100 + i).encode(),
            headers=[
                ("reason", reason.encode()),
                ("reason_detail", b"detail"),
                ("original_topic", source.encode()),
                ("original_partition", b"0"),
                ("original_offset", str(10 + i).encode()),
                ("trace", b"t"),
            ],
        )
    return DlqSetup(dlq_topic, source)


def run(bootstrap_servers: str, setup: DlqSetup, *args: str) -> Result:
    command, rest = args[0], args[1:]
    return CliRunner().invoke(
        dlq,
        [
            command,
            "--bootstrap-servers",
            bootstrap_servers,
            "--dlq-topic",
            setup.dlq_topic,
            "--idle-timeout",
            "10",
            *rest,
        ],
    )


def test_list_json(bootstrap_servers: str, dead_letters: DlqSetup) -> None:
    result = run(bootstrap_servers, dead_letters, "list", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["offset"] for r in rows] == [0, 1, 2, 3, 4]
    assert rows[1]["reason"] == "seer_rejected"
    assert rows[1]["original_offset"] == 11
    assert rows[1]["key"] == "101"
    assert rows[1]["size"] == len(b"value-1")
    assert rows[1]["timestamp"].endswith("Z")


def test_list_table_with_reason(bootstrap_servers: str, dead_letters: DlqSetup) -> None:
    result = run(bootstrap_servers, dead_letters, "list", "--reason", "seer_rejected")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "PARTITION",
        "OFFSET",
        "TIMESTAMP",
        "REASON",
        "ORIGINAL",
        "KEY",
        "SIZE",
    ]
    assert [line.split()[1] for line in lines[1:]] == ["1", "3"]
    assert f"{dead_letters.source_topic}[0]@11" in lines[1]
    assert "2 messages (seer_rejected: 2)" in result.stderr


def test_replay_by_reason(
    bootstrap_servers: str,
    dead_letters: DlqSetup,
    read_topic: Callable[[str], list],  # type: ignore[type-arg]
) -> None:
    result = run(bootstrap_servers, dead_letters, "replay", "--reason", "seer_rejected")
    assert result.exit_code == 0, result.output
    assert "read: 5, matched: 2, replayed: 2, failed: 0" in result.stdout
    # Messages that Seer rejected can succeed on replay: no warning.
    assert "warning" not in result.stderr
    replayed = read_topic(dead_letters.source_topic)
    assert [(r.key, r.value) for r in replayed] == [
        (b"101", b"value-1"),
        (b"103", b"value-3"),
    ]
    headers = replayed[0].headers
    assert headers["dlq_original_offset"] == b"11"
    assert headers["dlq_reason"] == b"seer_rejected"
    assert headers["dlq_offset"] == b"1"
    assert headers["dlq_partition"] == b"0"
    assert headers["trace"] == b"t"
    assert "reason" not in headers


def test_replay_offset_range(
    bootstrap_servers: str,
    dead_letters: DlqSetup,
    read_topic: Callable[[str], list],  # type: ignore[type-arg]
) -> None:
    result = run(
        bootstrap_servers,
        dead_letters,
        "replay",
        "--partition",
        "0",
        "--from-offset",
        "2",
        "--to-offset",
        "3",
    )
    assert result.exit_code == 0, result.output
    assert [r.key for r in read_topic(dead_letters.source_topic)] == [b"102", b"103"]


def test_replay_dry_run(
    bootstrap_servers: str,
    dead_letters: DlqSetup,
    read_topic: Callable[[str], list],  # type: ignore[type-arg]
) -> None:
    result = run(
        bootstrap_servers,
        dead_letters,
        "replay",
        "--dry-run",
        "--reason",
        "invalid_msgpack",
    )
    assert result.exit_code == 0, result.output
    planned = [json.loads(line) for line in result.stdout.splitlines()]
    assert [p["offset"] for p in planned] == [0, 2, 4]
    assert planned[0]["to_topic"] == dead_letters.source_topic
    assert "dry run: read: 5, matched: 3, replayed: 0" in result.stderr
    assert "warning: 3 messages were dead-lettered as invalid" in result.stderr
    assert "(invalid_msgpack: 3)" in result.stderr
    assert read_topic(dead_letters.source_topic) == []


def test_replay_to_topic(
    bootstrap_servers: str,
    dead_letters: DlqSetup,
    make_topic: Callable[..., str],
    read_topic: Callable[[str], list],  # type: ignore[type-arg]
) -> None:
    other = make_topic("other")
    result = run(bootstrap_servers, dead_letters, "replay", "--to-topic", other)
    assert result.exit_code == 0, result.output
    assert len(read_topic(other)) == 5
    assert read_topic(dead_letters.source_topic) == []


def test_replay_with_group_resumes(
    bootstrap_servers: str,
    dead_letters: DlqSetup,
    produce: Callable[..., int],
    read_topic: Callable[[str], list],  # type: ignore[type-arg]
) -> None:
    first = run(bootstrap_servers, dead_letters, "replay", "--group", "replayer")
    assert first.exit_code == 0, first.output
    assert "replayed: 5" in first.stdout
    produce(
        dead_letters.dlq_topic,
        b"late",
        key=b"200",
        headers=[
            ("reason", b"seer_rejected"),
            ("original_topic", dead_letters.source_topic.encode()),
        ],
    )
    pending = run(
        bootstrap_servers,
        dead_letters,
        "list",
        "--group",
        "replayer",
        "--format",
        "json",
    )
    assert [json.loads(line)["key"] for line in pending.stdout.splitlines()] == ["200"]
    second = run(bootstrap_servers, dead_letters, "replay", "--group", "replayer")
    assert second.exit_code == 0, second.output
    assert "read: 1, matched: 1, replayed: 1" in second.stdout
    assert [r.key for r in read_topic(dead_letters.source_topic)][-1] == b"200"


def test_replay_without_target(
    bootstrap_servers: str, make_topic: Callable[..., str], produce: Callable[..., int]
) -> None:
    setup = DlqSetup(make_topic("dlq"), "unused")
    produce(setup.dlq_topic, b"orphan", headers=[("reason", b"invalid_msgpack")])
    result = run(bootstrap_servers, setup, "replay")
    assert result.exit_code == 1
    assert "without target topic: 1" in result.stdout
    assert "pass --to-topic" in result.stderr


def test_replay_bad_offsets(bootstrap_servers: str, dead_letters: DlqSetup) -> None:
    result = run(
        bootstrap_servers,
        dead_letters,
        "replay",
        "--from-offset",
        "4",
        "--to-offset",
        "1",
    )
    assert result.exit_code == 2
    assert "is after --to-offset" in result.stderr


def test_list_missing_topic(bootstrap_servers: str) -> None:
    result = run(bootstrap_servers, DlqSetup("missing-dlq-x1", "s"), "list")
    assert result.exit_code == 1
    assert "not found" in result.stderr
    assert "check --dlq-topic" in result.stderr


@pytest.mark.parametrize("command", ["list", "replay"])
def test_group_option_conflict_exit_2(command: str) -> None:
    # Rejected before any client starts, so no broker is needed.
    result = CliRunner().invoke(
        dlq, [command, "--group", "replayer", "-O", "consumer:group.id=other"]
    )
    assert result.exit_code == 2
    assert (
        "-O consumer:group.id=other conflicts with --group=replayer." in result.stderr
    )


def test_group_auto_commit_conflict_exit_2() -> None:
    result = CliRunner().invoke(
        dlq, ["replay", "--group", "replayer", "-O", "enable.auto.commit=true"]
    )
    assert result.exit_code == 2
    assert "-O enable.auto.commit=true conflicts with" in result.stderr
    assert "only a replay that delivered every message commits" in result.stderr


def test_misspelled_reason_is_a_usage_error() -> None:
    result = CliRunner().invoke(dlq, ["list", "--reason", "seer_rejcted"])
    assert result.exit_code == 2, result.output
    assert "'seer_rejcted' is not one of" in result.output
    assert "'seer_rejected'" in result.output
