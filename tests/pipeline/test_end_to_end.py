"""The real pipeline end to end: tansu broker, PostgreSQL, the Seer-compatible
service on a socket, and the consumer in its own process, over events that
the sentry-sdk captured from real exceptions."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import psycopg
import pytest
from sentry_kafka_schemas import get_codec

from consumers.messages import ProjectBatch
from consumers.seer.service.server import SeerService

from .conftest import (
    PARTITIONS,
    Topics,
    committed_offsets,
    load_sdk_events,
    onward_offsets,
    outcome_bodies,
    read_topic,
    reset_to_earliest,
    run_consumer,
    schedule_batches,
)

PROJECTS = [11, 12, 13]


def _expected_end_offsets(
    topics: Topics, database_url: str, run_id: str
) -> dict[int, int]:
    produced: dict[int, list[int]] = {p: list(o) for p, o in topics.produced.items()}
    for partition, offsets in onward_offsets(database_url, run_id).items():
        produced.setdefault(partition, []).extend(offsets)
    return {partition: max(offsets) + 1 for partition, offsets in produced.items()}


def _marks(database_url: str) -> dict[int, dict[str, Any]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT id, data #> '{metadata,seer_similarity}' FROM groups "
            "WHERE data #> '{metadata,seer_similarity}' IS NOT NULL"
        ).fetchall()
    return {row[0]: row[1] for row in rows}


def _group_hashes(database_url: str) -> dict[int, set[str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT group_id, hash FROM group_hashes").fetchall()
    hashes: dict[int, set[str]] = {}
    for group_id, hash_ in rows:
        hashes.setdefault(group_id, set()).add(hash_)
    return hashes


def _seer_hashes(database_url: str) -> list[tuple[int, str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT project_id, hash FROM seer_local.seer_grouping_records"
        ).fetchall()
    return [(row[0], row[1]) for row in rows]


def _ledger_totals(database_url: str, run_id: str) -> tuple[int, Counter[str], int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT outputs FROM backfill_ledger WHERE run_id = %s AND state = 'done'",
            (run_id,),
        ).fetchall()
    accepted = 0
    filtered: Counter[str] = Counter()
    outcomes = 0
    for (outputs,) in rows:
        accepted += outputs.get("accepted", 0)
        filtered.update(outputs.get("filtered", {}))
        outcomes += outputs.get("outcomes", 0)
    return accepted, filtered, outcomes


@pytest.fixture
def backfilled(
    bootstrap_servers: str,
    topics: Topics,
    clean_database: str,
    seer_service: SeerService,
) -> str:
    """Ingest SDK events into three projects, schedule them, run the consumer."""
    load_sdk_events(clean_database, PROJECTS, count=240, seed=5)
    run_id = str(uuid.uuid4())
    batches = [
        ProjectBatch(run_id=run_id, project_id=PROJECTS[0]),
        # Two projects chained in one cohort, processed in order.
        ProjectBatch(
            run_id=run_id,
            project_id=PROJECTS[1],
            cohort=(PROJECTS[1], PROJECTS[2]),
            enable_ingestion=True,
        ),
    ]
    schedule_batches(bootstrap_servers, topics, batches)
    # A small batch size gives every project a chain of several batches, and
    # one hashing process exercises Arroyo's multiprocessing step.
    run_consumer(
        bootstrap_servers,
        topics,
        clean_database,
        seer_service.url,
        "--batch-size",
        "7",
        "--processes",
        "1",
    )
    return run_id


def test_backfill_marks_every_eligible_group(
    backfilled: str, clean_database: str, seer_service: SeerService
) -> None:
    marks = _marks(clean_database)
    hashes = _group_hashes(clean_database)
    with psycopg.connect(clean_database) as conn:
        eligible = {
            row[0]
            for row in conn.execute(
                "SELECT id FROM groups WHERE times_seen > 1 AND type = 1"
            ).fetchall()
        }
    assert eligible, "the generated events produced no eligible group"
    assert set(marks) == eligible
    for group_id, mark in marks.items():
        assert mark["similarity_model_version"] == "v0"
        assert mark["request_hash"] in hashes[group_id]


def test_backfill_stores_one_seer_record_per_group(
    backfilled: str, clean_database: str
) -> None:
    marks = _marks(clean_database)
    with psycopg.connect(clean_database) as conn:
        project_of: dict[int, int] = dict(
            conn.execute("SELECT id, project_id FROM groups").fetchall()
        )
    records = _seer_hashes(clean_database)
    assert len(records) == len(set(records))
    stored = set(records)
    without_neighbour = {
        (project_of[group_id], mark["request_hash"])
        for group_id, mark in marks.items()
        if "results" not in mark
    }
    assert without_neighbour == stored
    with_neighbour = [m for m in marks.values() if "results" in m]
    assert len(stored) + len(with_neighbour) == len(marks)


def test_backfill_produces_valid_outcomes(
    backfilled: str, bootstrap_servers: str, topics: Topics, clean_database: str
) -> None:
    records = read_topic(bootstrap_servers, topics.outcomes)
    bodies = outcome_bodies(records)
    codec = get_codec("outcomes")
    for body in bodies:
        codec.validate(body)
    accepted = sum(b["quantity"] for b in bodies if b["outcome"] == 0)
    filtered: Counter[str] = Counter()
    for body in bodies:
        if body["outcome"] == 1:
            filtered[body["reason"]] += body["quantity"]
    ledger_accepted, ledger_filtered, ledger_outcomes = _ledger_totals(
        clean_database, backfilled
    )
    assert accepted == len(_marks(clean_database))
    assert accepted == ledger_accepted
    assert filtered == ledger_filtered
    assert len(bodies) == ledger_outcomes
    assert {b["org_id"] for b in bodies} == {7}
    assert filtered["seen_once"] > 0


def test_backfill_commits_last_offsets(
    backfilled: str, bootstrap_servers: str, topics: Topics, clean_database: str
) -> None:
    expected = _expected_end_offsets(topics, clean_database, backfilled)
    assert committed_offsets(bootstrap_servers, topics) == expected
    assert read_topic(bootstrap_servers, topics.dlq, idle_seconds=1.0) == []


def test_backfill_sets_completed_option_when_asked(
    backfilled: str, clean_database: str
) -> None:
    with psycopg.connect(clean_database) as conn:
        rows: dict[int, bool] = dict(
            conn.execute(
                "SELECT id, options ? 'sentry:similarity_backfill_completed' "
                "FROM projects"
            ).fetchall()
        )
    assert rows == {PROJECTS[0]: False, PROJECTS[1]: True, PROJECTS[2]: True}


def test_replay_of_whole_topic_doubles_nothing(
    backfilled: str,
    bootstrap_servers: str,
    topics: Topics,
    clean_database: str,
    seer_service: SeerService,
) -> None:
    marks_before = _marks(clean_database)
    records_before = sorted(_seer_hashes(clean_database))
    requests_before = seer_service.stats().count("grouping_records", 200)
    input_before = len(read_topic(bootstrap_servers, topics.input))
    outcomes_before = len(read_topic(bootstrap_servers, topics.outcomes))
    with psycopg.connect(clean_database) as conn:
        ledger_before = conn.execute("SELECT count(*) FROM backfill_ledger").fetchone()

    reset_to_earliest(bootstrap_servers, topics)
    assert committed_offsets(bootstrap_servers, topics) == {
        p: 0 for p in range(PARTITIONS)
    }
    run_consumer(bootstrap_servers, topics, clean_database, seer_service.url)

    assert _marks(clean_database) == marks_before
    assert sorted(_seer_hashes(clean_database)) == records_before
    assert seer_service.stats().count("grouping_records", 200) == requests_before
    assert len(read_topic(bootstrap_servers, topics.input)) == input_before
    assert len(read_topic(bootstrap_servers, topics.outcomes)) == outcomes_before
    with psycopg.connect(clean_database) as conn:
        ledger_after = conn.execute("SELECT count(*) FROM backfill_ledger").fetchone()
    assert ledger_after == ledger_before
    expected = _expected_end_offsets(topics, clean_database, backfilled)
    assert committed_offsets(bootstrap_servers, topics) == expected


def test_delete_mode_clears_project(
    backfilled: str,
    bootstrap_servers: str,
    topics: Topics,
    clean_database: str,
    seer_service: SeerService,
) -> None:
    target = PROJECTS[0]
    with psycopg.connect(clean_database) as conn:
        project_of: dict[int, int] = dict(
            conn.execute("SELECT id, project_id FROM groups").fetchall()
        )
    kept_marks = {
        g: m for g, m in _marks(clean_database).items() if project_of[g] != target
    }
    kept_records = sorted(r for r in _seer_hashes(clean_database) if r[0] != target)
    assert any(r[0] == target for r in _seer_hashes(clean_database))

    schedule_batches(
        bootstrap_servers,
        topics,
        [ProjectBatch(run_id=str(uuid.uuid4()), project_id=target, only_delete=True)],
    )
    run_consumer(bootstrap_servers, topics, clean_database, seer_service.url)

    assert _marks(clean_database) == kept_marks
    assert sorted(_seer_hashes(clean_database)) == kept_records


def test_worker_mode_covers_every_project(
    bootstrap_servers: str,
    topics: Topics,
    clean_database: str,
    seer_service: SeerService,
) -> None:
    projects = [41, 42, 43, 44, 45]
    load_sdk_events(clean_database, projects, count=150, seed=6)
    run_id = str(uuid.uuid4())
    workers = [
        ProjectBatch(run_id=run_id, project_id=None, worker_number=n, total_workers=2)
        for n in range(2)
    ]
    schedule_batches(bootstrap_servers, topics, workers)
    run_consumer(bootstrap_servers, topics, clean_database, seer_service.url)

    with psycopg.connect(clean_database) as conn:
        eligible = {
            row[0]
            for row in conn.execute(
                "SELECT id FROM groups WHERE times_seen > 1"
            ).fetchall()
        }
        processed = {
            row[0]
            for row in conn.execute(
                "SELECT DISTINCT project_id FROM backfill_ledger "
                "WHERE run_id = %s AND project_id IS NOT NULL",
                (run_id,),
            ).fetchall()
        }
    assert set(_marks(clean_database)) == eligible
    assert processed == set(projects)
    expected = _expected_end_offsets(topics, clean_database, run_id)
    assert committed_offsets(bootstrap_servers, topics) == expected
