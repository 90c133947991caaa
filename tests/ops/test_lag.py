"""Lag: arithmetic, Burrow-style evaluation, and the command against the broker."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result
from confluent_kafka import Consumer

from consumers.cli.lag import lag
from consumers.kafka.admin import GroupState
from consumers.ops.lag import (
    LagSnapshot,
    PartitionLag,
    consumer_position,
    message_lag,
    seconds_behind,
)
from consumers.ops.lag_status import (
    Observation,
    Status,
    evaluate_group,
    evaluate_partition,
    partition_windows,
)

# Arithmetic.


def test_position_without_commit() -> None:
    assert consumer_position(None, 7) == 7


def test_lag_from_commit() -> None:
    assert message_lag(committed=4, low=0, high=10) == 6


def test_lag_without_commit_counts_from_low() -> None:
    assert message_lag(committed=None, low=3, high=10) == 7


def test_lag_never_negative() -> None:
    # tansu reports the base offset of the last batch + 1 as high watermark:
    # after a 5-record batch at offset 0 it reports 1 while the group is at 5.
    assert message_lag(committed=5, low=0, high=1) == 0


def test_seconds_behind_zero_lag() -> None:
    assert seconds_behind(1000.0, None, 0) == 0.0


def test_seconds_behind_age() -> None:
    assert seconds_behind(1000.0, 940_000, 3) == 60.0


def test_seconds_behind_unknown_timestamp() -> None:
    assert seconds_behind(1000.0, None, 3) is None


def test_seconds_behind_future_timestamp() -> None:
    assert seconds_behind(1000.0, 1_005_000, 3) == 0.0


# Evaluation on sample windows: (committed, lag) per sample.


def window(
    *samples: tuple[int | None, int], active: bool | None = True
) -> list[Observation]:
    return [Observation(c, lag_, active) for c, lag_ in samples]


def test_status_ok_when_lag_hits_zero() -> None:
    assert evaluate_partition(window((5, 3), (5, 0), (5, 4))) is Status.OK


def test_status_stop_when_group_empty() -> None:
    assert evaluate_partition(window((5, 3), (5, 3), active=False)) is Status.STOP


def test_status_stop_from_one_sample() -> None:
    assert evaluate_partition(window((5, 3), active=False)) is Status.STOP


def test_status_ok_from_one_sample() -> None:
    assert evaluate_partition(window((5, 3))) is Status.OK


def test_status_stall_when_offset_fixed() -> None:
    assert evaluate_partition(window((5, 3), (5, 3), (5, 8))) is Status.STALL


def test_status_stall_without_commit() -> None:
    assert evaluate_partition(window((None, 3), (None, 3))) is Status.STALL


def test_status_warn_when_falling_behind() -> None:
    assert evaluate_partition(window((5, 3), (8, 3), (12, 7))) is Status.WARN


def test_status_ok_when_catching_up() -> None:
    assert evaluate_partition(window((5, 10), (9, 6), (12, 7))) is Status.OK


def test_status_unknown_state_counts_as_running() -> None:
    assert evaluate_partition(window((5, 3), (5, 3), active=None)) is Status.STALL


def test_status_rewind_restarts_window() -> None:
    # Offset reset from 50 back to 10: the samples before it are ignored,
    # so the lag of 0 at offset 50 does not make it OK.
    samples = window((50, 0), (10, 40), (10, 40))
    assert evaluate_partition(samples) is Status.STALL


def test_status_needs_samples() -> None:
    with pytest.raises(ValueError, match="at least one sample"):
        evaluate_partition([])


def test_group_status_is_worst() -> None:
    group, statuses = evaluate_group(
        {
            0: window((1, 0), (2, 0)),
            1: window((5, 3), (5, 3)),
            2: window((1, 2), (3, 4)),
        }
    )
    assert statuses == {0: Status.OK, 1: Status.STALL, 2: Status.WARN}
    assert group is Status.STALL


def test_group_status_without_partitions() -> None:
    assert evaluate_group({}) == (Status.OK, {})


def test_windows_from_snapshots() -> None:
    def snap(committed: int, state: GroupState) -> LagSnapshot:
        row = PartitionLag(0, committed, 0, 10, 10 - committed, None)
        return LagSnapshot("g", "t", 0.0, state, (row,))

    windows = partition_windows([snap(2, GroupState.STABLE), snap(4, GroupState.EMPTY)])
    assert windows == {
        0: [Observation(2, 8, True), Observation(4, 6, False)],
    }


# The command, against the broker.


@pytest.fixture
def lagging(
    make_topic: Callable[..., str],
    produce: Callable[..., int],
    commit_offsets: Callable[[str, str, dict[int, int]], None],
) -> tuple[str, str]:
    """Partition 0: 5 messages, committed 2. Partition 1: 3 messages, no commit.

    The messages are stamped 120 s in the past.
    """
    topic = make_topic("lag", partitions=2)
    stamp = int((time.time() - 120) * 1000)
    for i in range(5):
        produce(topic, f"a{i}".encode(), partition=0, timestamp_ms=stamp + i)
    for i in range(3):
        produce(topic, f"b{i}".encode(), partition=1, timestamp_ms=stamp + i)
    group = f"lag-{uuid.uuid4().hex[:8]}"
    commit_offsets(group, topic, {0: 2})
    return group, topic


def run_lag(bootstrap_servers: str, group: str, topic: str, *args: str) -> Result:
    return CliRunner().invoke(
        lag,
        [
            "--bootstrap-servers",
            bootstrap_servers,
            "--group",
            group,
            "--topic",
            topic,
            *args,
        ],
    )


def test_lag_values(bootstrap_servers: str, lagging: tuple[str, str]) -> None:
    group, topic = lagging
    result = run_lag(bootstrap_servers, group, topic, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    first, second = report["partitions"]
    assert (first["current_offset"], first["log_end_offset"], first["lag"]) == (2, 5, 3)
    assert (second["current_offset"], second["log_end_offset"], second["lag"]) == (
        None,
        3,
        3,
    )
    assert 110 <= first["lag_seconds"] <= 200
    assert 110 <= second["lag_seconds"] <= 200
    assert report["total_lag"] == 6


def test_lag_stopped_group(bootstrap_servers: str, lagging: tuple[str, str]) -> None:
    group, topic = lagging
    result = run_lag(bootstrap_servers, group, topic, "--format", "json")
    report = json.loads(result.stdout)
    assert report["group_state"] == "Empty"
    assert report["status"] == "STOP"


def test_lag_fail_on_exit_code(
    bootstrap_servers: str, lagging: tuple[str, str]
) -> None:
    group, topic = lagging
    result = run_lag(bootstrap_servers, group, topic, "--fail-on", "stop")
    assert result.exit_code == 3
    assert "at or above --fail-on STOP" in result.stderr


def test_lag_unknown_group_notes_no_commit(
    bootstrap_servers: str, lagging: tuple[str, str]
) -> None:
    _, topic = lagging
    result = run_lag(bootstrap_servers, "lag-typo-" + uuid.uuid4().hex[:8], topic)
    assert result.exit_code == 0, result.output
    assert "has no committed offset on any selected partition" in result.stderr
    assert "check the --group name" in result.stderr
    assert "no committed offset" not in result.stdout


def test_lag_unknown_group_json_committed(
    bootstrap_servers: str, lagging: tuple[str, str]
) -> None:
    group, topic = lagging
    unknown = run_lag(bootstrap_servers, group + "-typo", topic, "--format", "json")
    known = run_lag(bootstrap_servers, group, topic, "--format", "json")
    assert unknown.exit_code == 0, unknown.output
    assert json.loads(unknown.stdout)["committed"] is False
    assert json.loads(known.stdout)["committed"] is True
    assert "no committed offset" not in known.stderr


def test_lag_unknown_group_fail_on(
    bootstrap_servers: str, lagging: tuple[str, str]
) -> None:
    _, topic = lagging
    result = run_lag(bootstrap_servers, "lag-typo-x", topic, "--fail-on", "STOP")
    assert result.exit_code == 3
    assert "has no committed offset" in result.stderr


def test_lag_caught_up_group(
    bootstrap_servers: str,
    lagging: tuple[str, str],
    commit_offsets: Callable[[str, str, dict[int, int]], None],
) -> None:
    group, topic = lagging
    commit_offsets(group, topic, {0: 5, 1: 3})
    result = run_lag(
        bootstrap_servers, group, topic, "--format", "json", "--fail-on", "WARN"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "OK"
    assert [p["lag_seconds"] for p in report["partitions"]] == [0.0, 0.0]


def test_lag_stalled_group(
    bootstrap_servers: str,
    lagging: tuple[str, str],
    group_member: Callable[[str, str], Consumer],
) -> None:
    group, topic = lagging
    group_member(group, topic)  # joined, never commits
    result = run_lag(
        bootstrap_servers,
        group,
        topic,
        "--samples",
        "2",
        "--interval",
        "0.2",
        "--fail-on",
        "STALL",
    )
    assert result.exit_code == 3
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "LAG-SECONDS",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
        "STATUS",
    ]
    assert lines[1].split()[-1] == "STALL"
    assert "group status: STALL (state Stable" in result.stdout


def test_lag_json_line_per_sample(
    bootstrap_servers: str, lagging: tuple[str, str]
) -> None:
    group, topic = lagging
    result = run_lag(
        bootstrap_servers,
        group,
        topic,
        "--samples",
        "3",
        "--interval",
        "0.1",
        "--format",
        "json",
        "--fail-on",
        "STOP",
    )
    assert result.exit_code == 3
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    reports = [json.loads(line) for line in lines]
    assert [r["samples"] for r in reports] == [1, 2, 3]
    assert [r["total_lag"] for r in reports] == [6, 6, 6]
    # The group has no members, so every judgement is STOP.
    assert [r["status"] for r in reports] == ["STOP", "STOP", "STOP"]
    assert "at or above --fail-on STOP" in result.stderr


def test_lag_watch_stops_on_fail(
    bootstrap_servers: str, lagging: tuple[str, str]
) -> None:
    group, topic = lagging
    result = run_lag(
        bootstrap_servers,
        group,
        topic,
        "--watch",
        "0.2",
        "--fail-on",
        "STOP",
        "--format",
        "json",
    )
    assert result.exit_code == 3
    assert json.loads(result.stdout.splitlines()[0])["status"] == "STOP"


def test_lag_partitions_option(
    bootstrap_servers: str, lagging: tuple[str, str]
) -> None:
    group, topic = lagging
    result = run_lag(
        bootstrap_servers, group, topic, "--format", "json", "--partitions", "1"
    )
    assert [p["partition"] for p in json.loads(result.stdout)["partitions"]] == [1]


def test_lag_missing_topic(bootstrap_servers: str) -> None:
    result = run_lag(bootstrap_servers, "g", f"missing-{uuid.uuid4().hex[:6]}")
    assert result.exit_code == 1
    assert "not found" in result.stderr
