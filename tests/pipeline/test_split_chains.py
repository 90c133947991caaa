"""A project split into several chains by `seer-backfill schedule`, run by the
real consumer: every group is processed once, the project is marked complete
once all chains end, and a replay of the topic doubles nothing."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections import Counter
from typing import Any

import msgpack
import psycopg
import pytest

from consumers.messages import decode_project_batch
from consumers.seer.service.server import SeerService

from .conftest import (
    Topics,
    committed_offsets,
    load_sdk_events,
    read_topic,
    reset_to_earliest,
    run_consumer,
    seer_backfill,
)

PROJECT = 61
OTHER = 62
CHAIN_GROUPS = 8
COMPLETED = "sentry:similarity_backfill_completed"


def _schedule(
    bootstrap_servers: str, topics: Topics, database_url: str, run_id: str
) -> subprocess.CompletedProcess[str]:
    result = seer_backfill(
        "schedule",
        "--bootstrap-servers",
        bootstrap_servers,
        "--database-url",
        database_url,
        "--topic",
        topics.input,
        "--run-id",
        run_id,
        "--project-id",
        str(PROJECT),
        "--project-id",
        str(OTHER),
        "--chain-groups",
        str(CHAIN_GROUPS),
        "--enable-ingestion",
    )
    assert result.returncode == 0, result.stderr
    return result


def _group_counts(database_url: str) -> dict[int, int]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT project_id, count(*) FROM groups GROUP BY project_id"
        ).fetchall()
    return {int(p): int(n) for p, n in rows}


def _state(database_url: str, run_id: str) -> dict[str, Any]:
    with psycopg.connect(database_url) as conn:
        marked = conn.execute(
            "SELECT count(*) FROM groups "
            "WHERE data #> '{metadata,seer_similarity}' IS NOT NULL"
        ).fetchone()
        records = conn.execute(
            "SELECT count(*), count(DISTINCT (project_id, hash)) "
            "FROM seer_local.seer_grouping_records"
        ).fetchone()
        ledger = conn.execute(
            "SELECT batch_key, outputs FROM backfill_ledger "
            "WHERE run_id = %s AND state = 'done' ORDER BY batch_key",
            (run_id,),
        ).fetchall()
        completed = conn.execute(
            "SELECT id, options -> %s FROM projects ORDER BY id", (COMPLETED,)
        ).fetchall()
    return {
        "marked": marked,
        "records": records,
        "ledger": ledger,
        "completed": completed,
    }


@pytest.fixture
def split_run(
    bootstrap_servers: str,
    topics: Topics,
    clean_database: str,
    seer_service: SeerService,
) -> str:
    load_sdk_events(clean_database, [PROJECT, OTHER], count=300, seed=8)
    counts = _group_counts(clean_database)
    assert counts[PROJECT] > 3 * CHAIN_GROUPS, counts
    run_id = str(uuid.uuid4())
    _schedule(bootstrap_servers, topics, clean_database, run_id)
    # Batches smaller than a chain give every chain several batches.
    run_consumer(
        bootstrap_servers,
        topics,
        clean_database,
        seer_service.url,
        "--batch-size",
        "3",
    )
    return run_id


def test_schedule_splits_large_projects_into_disjoint_ranges(
    bootstrap_servers: str, topics: Topics, clean_database: str
) -> None:
    load_sdk_events(clean_database, [PROJECT, OTHER], count=300, seed=8)
    counts = _group_counts(clean_database)
    result = seer_backfill(
        "schedule",
        "--bootstrap-servers",
        bootstrap_servers,
        "--database-url",
        clean_database,
        "--project-id",
        str(PROJECT),
        "--chain-groups",
        str(CHAIN_GROUPS),
        "--dry-run",
    )
    assert result.returncode == 0, result.stderr

    lines = [json.loads(line) for line in result.stdout.splitlines()]
    chains = [line["value"] for line in lines]
    for chain in chains:
        decode_project_batch(msgpack.packb(chain))
    expected = -(-counts[PROJECT] // CHAIN_GROUPS)
    assert len(chains) == expected
    assert {c["chains"] for c in chains} == {expected}
    # Newest range first; each range ends where the next one starts.
    floors = [c["min_group_id"] for c in chains]
    assert floors == sorted(floors, reverse=True)
    assert floors[-1] == 0
    assert chains[0]["cursor"] is None
    assert [c["cursor"] for c in chains[1:]] == floors[:-1]

    with psycopg.connect(clean_database) as conn:
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM groups WHERE project_id = %s ORDER BY id", (PROJECT,)
            ).fetchall()
        ]
    for chain in chains:
        top = chain["cursor"]
        inside = [
            i for i in ids if i >= chain["min_group_id"] and (top is None or i < top)
        ]
        assert 0 < len(inside) <= CHAIN_GROUPS
    keys = {line["key"] for line in lines}
    assert len(keys) == expected


def test_split_project_processes_every_group_once(
    split_run: str, bootstrap_servers: str, topics: Topics, clean_database: str
) -> None:
    state = _state(clean_database, split_run)
    with psycopg.connect(clean_database) as conn:
        eligible = conn.execute(
            "SELECT count(*) FROM groups WHERE times_seen > 1 AND type = 1"
        ).fetchone()
    assert state["marked"] == eligible
    total, distinct = state["records"]
    assert total == distinct
    accepted = sum(outputs.get("accepted", 0) for _, outputs in state["ledger"])
    assert eligible is not None and accepted == eligible[0]
    ends: dict[str, list[dict[str, int]]] = {}
    for key, outputs in state["ledger"]:
        if "chain_end" in outputs:
            project = key.split(":project:")[1].split(":")[0]
            ends.setdefault(project, []).append(outputs["chain_end"])
    assert set(ends) == {str(PROJECT), str(OTHER)}
    for project_ends in ends.values():
        # Every chain ended exactly once.
        assert len(project_ends) == project_ends[0]["chains"] > 1
        assert len({e["floor"] for e in project_ends}) == len(project_ends)
    outcomes = read_topic(bootstrap_servers, topics.outcomes)
    assert len(outcomes) == sum(o.get("outcomes", 0) for _, o in state["ledger"])
    input_records = read_topic(bootstrap_servers, topics.input)
    ends_by_partition: Counter[int] = Counter()
    for record in input_records:
        partition, offset = record.partition(), record.offset()
        assert partition is not None and offset is not None
        ends_by_partition[partition] = max(ends_by_partition[partition], offset + 1)
    assert committed_offsets(bootstrap_servers, topics) == dict(ends_by_partition)


def test_split_project_completed_once_every_chain_ended(
    split_run: str, clean_database: str
) -> None:
    state = _state(clean_database, split_run)
    completed = dict(state["completed"])
    assert completed[PROJECT] is not None
    assert completed[OTHER] is not None


def test_split_chains_replay_doubles_nothing(
    split_run: str,
    bootstrap_servers: str,
    topics: Topics,
    clean_database: str,
    seer_service: SeerService,
) -> None:
    before = _state(clean_database, split_run)
    outcomes_before = len(read_topic(bootstrap_servers, topics.outcomes))
    input_before = len(read_topic(bootstrap_servers, topics.input))
    requests_before = seer_service.stats().count("grouping_records", 200)

    # The schedule repeated under the same run id publishes nothing new.
    again = _schedule(bootstrap_servers, topics, clean_database, split_run)
    assert "nothing to publish" in again.stdout
    reset_to_earliest(bootstrap_servers, topics)
    run_consumer(bootstrap_servers, topics, clean_database, seer_service.url)

    assert _state(clean_database, split_run) == before
    assert len(read_topic(bootstrap_servers, topics.outcomes)) == outcomes_before
    assert len(read_topic(bootstrap_servers, topics.input)) == input_before
    assert seer_service.stats().count("grouping_records", 200) == requests_before
