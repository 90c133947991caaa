"""Every dead-letter reason, with a real malformed message on the real broker."""

from __future__ import annotations

import subprocess
import uuid

import msgpack
import psycopg

from consumers.messages import ProjectBatch, encode_project_batch
from consumers.seer.service.server import SeerService

from .conftest import (
    SEER_BACKFILL,
    Topics,
    committed_offsets,
    load_sdk_events,
    outcome_bodies,
    produce,
    read_topic,
    run_consumer,
)

MALFORMED: dict[str, bytes] = {
    "invalid_msgpack": b"\xc1\x00not msgpack",
    "not_a_map": msgpack.packb([1, 2, 3]),
    "unsupported_version": msgpack.packb({"v": 9, "run_id": "r", "project_id": 1}),
    "missing_field": msgpack.packb({"v": 1, "project_id": 1}),
    "invalid_field": msgpack.packb({"v": 1, "run_id": "r", "project_id": "one"}),
    "inconsistent_fields": msgpack.packb({"v": 1, "run_id": "r", "project_id": None}),
    "message_too_large": msgpack.packb(
        {"v": 1, "run_id": "r", "project_id": 1, "pad": "x" * 300_000}
    ),
}


def _headers(message: object) -> dict[str, str]:
    raw = message.headers() or []  # type: ignore[attr-defined]
    return {key: value.decode() for key, value in raw}


def test_malformed_messages_go_to_dlq_with_reason(
    bootstrap_servers: str,
    topics: Topics,
    clean_database: str,
    seer_service: SeerService,
) -> None:
    produce(
        bootstrap_servers,
        topics,
        [(f"key-{reason}".encode(), raw) for reason, raw in MALFORMED.items()],
        headers=[("trace", b"kept")],
    )
    run_consumer(bootstrap_servers, topics, clean_database, seer_service.url)

    dead = read_topic(bootstrap_servers, topics.dlq)
    by_reason = {_headers(m)["reason"]: m for m in dead}
    assert sorted(by_reason) == sorted(MALFORMED)
    for reason, message in by_reason.items():
        headers = _headers(message)
        assert message.value() == MALFORMED[reason]
        assert message.key() == f"key-{reason}".encode()
        assert headers["original_topic"] == topics.input
        assert (
            int(headers["original_offset"])
            in topics.produced[int(headers["original_partition"])]
        )
        assert headers["reason_detail"]
        assert headers["trace"] == "kept"
    msgpack_detail = _headers(by_reason["invalid_msgpack"])["reason_detail"]
    assert msgpack_detail.startswith("FormatError: payload is not valid msgpack")
    assert "first bytes: c1 00 6e 6f 74" in msgpack_detail
    expected = {p: max(offsets) + 1 for p, offsets in topics.produced.items()}
    assert committed_offsets(bootstrap_servers, topics) == expected


def test_seer_rejection_goes_to_dlq_and_replays(
    bootstrap_servers: str,
    topics: Topics,
    clean_database: str,
    seer_service: SeerService,
) -> None:
    load_sdk_events(clean_database, [21], count=60, seed=9)
    batch = ProjectBatch(run_id=str(uuid.uuid4()), project_id=21)
    seer_service.update_faults(error_rate=1.0, error_status=400)
    produce(bootstrap_servers, topics, [(batch.key(), encode_project_batch(batch))])
    run_consumer(bootstrap_servers, topics, clean_database, seer_service.url)

    dead = read_topic(bootstrap_servers, topics.dlq)
    assert [_headers(m)["reason"] for m in dead] == ["seer_rejected"]
    assert "400" in _headers(dead[0])["reason_detail"]
    with psycopg.connect(clean_database) as conn:
        ledger_rows = conn.execute("SELECT count(*) FROM backfill_ledger").fetchone()
    # The claim is released, so a replay of the dead letter does the work.
    assert ledger_rows == (0,)

    seer_service.update_faults(error_rate=0.0)
    replay = subprocess.run(
        [
            SEER_BACKFILL,
            "dlq",
            "replay",
            "--bootstrap-servers",
            bootstrap_servers,
            "--dlq-topic",
            topics.dlq,
            "--reason",
            "seer_rejected",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert replay.returncode == 0, replay.stderr
    run_consumer(bootstrap_servers, topics, clean_database, seer_service.url)
    with psycopg.connect(clean_database) as conn:
        marked = conn.execute(
            "SELECT count(*) FROM groups "
            "WHERE data #> '{metadata,seer_similarity}' IS NOT NULL"
        ).fetchone()
    assert marked is not None and marked[0] > 0
    assert len(read_topic(bootstrap_servers, topics.dlq)) == 1


def test_seer_outage_delays_but_loses_nothing(
    bootstrap_servers: str,
    topics: Topics,
    clean_database: str,
    seer_service: SeerService,
) -> None:
    load_sdk_events(clean_database, [22], count=60, seed=4)
    batch = ProjectBatch(run_id=str(uuid.uuid4()), project_id=22)
    # More failures than the client's own retries, so the stage's outage
    # backoff has to carry the batch through.
    seer_service.update_faults(fail_next=10, error_status=503)
    produce(bootstrap_servers, topics, [(batch.key(), encode_project_batch(batch))])
    run_consumer(
        bootstrap_servers,
        topics,
        clean_database,
        seer_service.url,
        "--seer-timeout",
        "2",
    )

    assert read_topic(bootstrap_servers, topics.dlq, idle_seconds=1.0) == []
    assert seer_service.stats().count("grouping_records", 503) == 10
    with psycopg.connect(clean_database) as conn:
        eligible = conn.execute(
            "SELECT count(*) FROM groups WHERE times_seen > 1"
        ).fetchone()
        marked = conn.execute(
            "SELECT count(*) FROM groups "
            "WHERE data #> '{metadata,seer_similarity}' IS NOT NULL"
        ).fetchone()
    assert eligible is not None and eligible[0] > 0
    assert marked == eligible


def test_retry_after_crash_reports_saved_result(
    bootstrap_servers: str,
    topics: Topics,
    clean_database: str,
    seer_service: SeerService,
) -> None:
    """A batch whose marks were written before a crash keeps its counts."""
    load_sdk_events(clean_database, [23], count=60, seed=8)
    batch = ProjectBatch(run_id=str(uuid.uuid4()), project_id=23)
    produce(bootstrap_servers, topics, [(batch.key(), encode_project_batch(batch))])
    ((partition, offsets),) = topics.produced.items()
    # The state a crash leaves between the marks and the ledger update: the
    # claim of this very message, holding the result saved with the marks.
    with psycopg.connect(clean_database) as conn:
        conn.execute(
            "INSERT INTO backfill_ledger "
            "(batch_key, run_id, project_id, cursor, state, source, outputs) "
            "VALUES (%s, %s, 23, NULL, 'pending', %s, %s::jsonb)",
            (
                batch.batch_key,
                batch.run_id,
                f"{topics.input}:{partition}:{offsets[0]}",
                '{"result": {"accepted": 5, "filtered": {"seen_once": 2}}}',
            ),
        )
    run_consumer(bootstrap_servers, topics, clean_database, seer_service.url)

    bodies = outcome_bodies(read_topic(bootstrap_servers, topics.outcomes))
    counts = sorted((b["outcome"], b["reason"], b["quantity"]) for b in bodies)
    assert counts == [(0, None, 5), (1, "seen_once", 2)]
    assert seer_service.stats().count("grouping_records", 200) == 0
