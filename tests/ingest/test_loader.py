from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from consumers.ingest import (
    IngestOptions,
    decode_payload,
    ingest_events,
    ingest_file,
    ingest_paths,
    node_id,
)
from consumers.samples import generate_events

PROJECT = 42


def table_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in ("projects", "groups", "group_hashes", "events", "nodestore"):
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        counts[table] = row[0]
    return counts


def group_stats(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(
        """
        SELECT g.id, g.times_seen, g.first_seen, g.last_seen,
               count(e.event_id), min(e.timestamp), max(e.timestamp)
        FROM groups g
        LEFT JOIN events e ON e.group_id = g.id AND e.project_id = g.project_id
        GROUP BY g.id ORDER BY g.id
        """
    ).fetchall()


def test_ingest_envelopes_loads_all(
    conn: psycopg.Connection[Any], envelope_dir: Path, generated_count: int
) -> None:
    report = ingest_paths([envelope_dir], PROJECT, conn)
    counts = table_counts(conn)
    assert report.ok
    assert report.files == generated_count
    assert report.events_loaded == generated_count
    assert counts["events"] == generated_count
    assert counts["nodestore"] == generated_count
    assert counts["groups"] == report.groups_created
    assert report.groups_created > 10


def test_ingest_groups_follow_scenarios(
    conn: psycopg.Connection[Any], envelope_dir: Path, generated_count: int
) -> None:
    ingest_paths([envelope_dir], PROJECT, conn)
    rows = conn.execute(
        "SELECT e.group_id, n.data FROM events e "
        "JOIN nodestore n "
        "ON n.id = md5(e.project_id || ':' || replace(e.event_id::text, '-', ''))"
    ).fetchall()
    scenarios_of_group: dict[int, set[str]] = {}
    for group_id, data in rows:
        scenario = dict(decode_payload(bytes(data))["tags"])["scenario"]
        scenarios_of_group.setdefault(group_id, set()).add(scenario)
    assert len(rows) == generated_count
    assert all(len(names) == 1 for names in scenarios_of_group.values())


def test_reingest_is_noop(
    conn: psycopg.Connection[Any], envelope_dir: Path, generated_count: int
) -> None:
    ingest_paths([envelope_dir], PROJECT, conn)
    before = (table_counts(conn), group_stats(conn))
    report = ingest_paths([envelope_dir], PROJECT, conn)
    assert report.events_loaded == 0
    assert report.events_skipped == generated_count
    assert report.groups_created == 0
    assert report.groups_updated == 0
    assert (table_counts(conn), group_stats(conn)) == before


def test_times_seen_and_bounds_match_events(
    conn: psycopg.Connection[Any], envelope_dir: Path, generated_count: int
) -> None:
    # Small batches make later batches update groups created by earlier ones.
    ingest_paths([envelope_dir], PROJECT, conn, IngestOptions(batch_size=7))
    stats = group_stats(conn)
    assert sum(row[1] for row in stats) == generated_count
    for group_id, times_seen, first_seen, last_seen, count, first, last in stats:
        assert times_seen == count, f"group {group_id}"
        assert first_seen == first, f"group {group_id}"
        assert last_seen == last, f"group {group_id}"
    assert any(row[1] > 1 for row in stats)


def test_split_ingest_matches_single(
    conn: psycopg.Connection[Any], envelope_dir: Path
) -> None:
    files = sorted(envelope_dir.iterdir())
    ingest_paths(files[::2], PROJECT, conn)
    report = ingest_paths(files[1::2], PROJECT, conn)
    stats = group_stats(conn)
    assert report.groups_updated > 0
    assert all(row[1] == row[4] for row in stats)


def test_nodestore_round_trip(conn: psycopg.Connection[Any]) -> None:
    event = next(generate_events(1, seed=4))
    ingest_events(event, PROJECT, conn)
    row = conn.execute(
        "SELECT data FROM nodestore WHERE id = %s",
        (node_id(PROJECT, event["event_id"]),),
    ).fetchone()
    assert row is not None
    stored = decode_payload(bytes(row[0]))
    assert stored["event_id"] == event["event_id"]
    assert (
        stored["exception"]["values"][-1]["type"]
        == event["exception"]["values"][-1]["type"]
    )
    assert len(stored["hashes"]) >= 1


def test_payload_primary_hash_maps_to_group(conn: psycopg.Connection[Any]) -> None:
    events = list(generate_events(10, seed=9))
    ingest_events(events, PROJECT, conn)
    for event in events:
        row = conn.execute(
            "SELECT e.group_id, n.data FROM events e, nodestore n "
            "WHERE e.project_id = %s AND e.event_id = %s AND n.id = %s",
            (PROJECT, event["event_id"], node_id(PROJECT, event["event_id"])),
        ).fetchone()
        assert row is not None
        primary = decode_payload(bytes(row[1]))["hashes"][0]
        mapped = conn.execute(
            "SELECT group_id FROM group_hashes WHERE project_id = %s AND hash = %s",
            (PROJECT, primary),
        ).fetchone()
        assert mapped == (row[0],)


def test_stored_hashes_are_kept(conn: psycopg.Connection[Any]) -> None:
    stored = ["0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"]
    event = {"event_id": "1" * 32, "message": "kept hashes", "hashes": stored}
    ingest_events(event, PROJECT, conn)
    hashes = conn.execute("SELECT hash FROM group_hashes ORDER BY hash").fetchall()
    row = conn.execute("SELECT data FROM nodestore").fetchone()
    assert row is not None
    assert [h[0] for h in hashes] == sorted(stored)
    assert decode_payload(bytes(row[0]))["hashes"] == stored


def test_invalid_events_reported_valid_loaded(conn: psycopg.Connection[Any]) -> None:
    values = [
        {"event_id": "2" * 32, "message": "fine"},
        5,
        {"event_id": "not-a-uuid", "message": "bad id"},
        {"message": "bad hashes", "hashes": ["xyz"]},
    ]
    report = ingest_events(values, PROJECT, conn, source="mixed.json")
    reasons = {item.index: item.reason for item in report.invalid}
    assert report.events_loaded == 1
    assert set(reasons) == {1, 2, 3}
    assert reasons[1] == "not a JSON object (got int)"
    assert reasons[2].startswith("invalid event_id 'not-a-uuid'")
    assert reasons[3].startswith("invalid hash 'xyz'")
    assert all(item.source == "mixed.json" for item in report.invalid)


def test_event_without_id_gets_stable_id(conn: psycopg.Connection[Any]) -> None:
    event = {"message": "no id here", "timestamp": 1_700_000_000}
    ingest_events([event], PROJECT, conn)
    again = ingest_events([dict(event)], PROJECT, conn)
    assert again.events_loaded == 0
    assert again.events_skipped == 1
    assert table_counts(conn)["events"] == 1


def test_repeated_event_in_input_counted_once(conn: psycopg.Connection[Any]) -> None:
    event = {"event_id": "3" * 32, "message": "twice"}
    report = ingest_events([event, event], PROJECT, conn)
    row = conn.execute("SELECT times_seen FROM groups").fetchone()
    assert report.events_loaded == 1
    assert report.events_skipped == 1
    assert row == (1,)


def test_later_event_refreshes_metadata_keeps_marks(
    conn: psycopg.Connection[Any],
) -> None:
    # One custom fingerprint puts both events into one group.
    base: dict[str, Any] = {
        "fingerprint": ["checkout-failure"],
        "exception": {"values": [{"type": "ValueError", "value": "old"}]},
    }
    older: dict[str, Any] = {**base, "event_id": "4" * 32, "timestamp": 1_700_000_000}
    ingest_events(older, PROJECT, conn)
    conn.execute(
        "UPDATE groups SET data = jsonb_set(data, '{metadata,seer_similarity}', "
        '\'{"similarity_model_version": "v0"}\')'
    )
    newer: dict[str, Any] = {
        **base,
        "exception": {"values": [{"type": "ValueError", "value": "new"}]},
        "event_id": "5" * 32,
        "timestamp": 1_700_000_100,
    }
    ingest_events(newer, PROJECT, conn)
    row = conn.execute("SELECT times_seen, data FROM groups").fetchone()
    assert row is not None
    assert row[0] == 2
    assert row[1]["metadata"]["value"] == "new"
    assert row[1]["metadata"]["seer_similarity"] == {"similarity_model_version": "v0"}


def test_older_event_keeps_metadata(conn: psycopg.Connection[Any]) -> None:
    ingest_events(
        {
            "event_id": "6" * 32,
            "timestamp": 1_700_000_100,
            "fingerprint": ["one"],
            "exception": {"values": [{"type": "KeyError", "value": "newest"}]},
        },
        PROJECT,
        conn,
    )
    ingest_events(
        {
            "event_id": "7" * 32,
            "timestamp": 1_700_000_000,
            "fingerprint": ["one"],
            "exception": {"values": [{"type": "KeyError", "value": "older"}]},
        },
        PROJECT,
        conn,
    )
    rows = conn.execute("SELECT first_seen, data FROM groups").fetchall()
    assert len(rows) == 1
    row = rows[0]
    assert row[0] == datetime.fromtimestamp(1_700_000_000, UTC)
    assert row[1]["metadata"]["value"] == "newest"


def test_project_row_created_with_options(conn: psycopg.Connection[Any]) -> None:
    options = IngestOptions(organization_id=9, slug="shop", platform="python")
    ingest_events({"event_id": "8" * 32, "message": "x"}, PROJECT, conn, options)
    row = conn.execute(
        "SELECT organization_id, slug, platform FROM projects"
    ).fetchone()
    assert row == (9, "shop", "python")


def test_existing_project_row_kept(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "INSERT INTO projects (id, organization_id, slug, platform) "
        "VALUES (%s, 3, 'old', 'go')",
        (PROJECT,),
    )
    ingest_events(
        {"event_id": "9" * 32, "message": "x"}, PROJECT, conn, IngestOptions(slug="new")
    )
    row = conn.execute(
        "SELECT organization_id, slug, platform FROM projects"
    ).fetchone()
    assert row == (3, "old", "go")


def test_shift_to_now_keeps_spacing(
    conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    old = [
        {"event_id": "a" * 32, "message": "m", "timestamp": 1_600_000_000},
        {"event_id": "b" * 32, "message": "m", "timestamp": "2020-09-13T12:43:20Z"},
    ]
    (tmp_path / "old.json").write_text(json.dumps(old))
    started = datetime.now(UTC)
    ingest_paths([tmp_path], PROJECT, conn, shift_to_now=True)
    rows = conn.execute("SELECT timestamp FROM events ORDER BY timestamp").fetchall()
    group = conn.execute("SELECT first_seen, last_seen FROM groups").fetchone()
    assert rows[1][0] - rows[0][0] == timedelta(seconds=1000)
    assert started - timedelta(seconds=5) <= rows[1][0] <= datetime.now(UTC)
    assert group == (rows[0][0], rows[1][0])


def test_ingest_file_through_pool(clean_database: str, envelope_dir: Path) -> None:
    path = sorted(envelope_dir.iterdir())[0]
    with ConnectionPool(clean_database, min_size=1, max_size=1) as pool:
        report = ingest_file(path, PROJECT, pool)
        with pool.connection() as conn:
            row = conn.execute("SELECT count(*) FROM events").fetchone()
    assert report.events_loaded == 1
    assert row == (1,)


def test_workers_match_single_process(
    clean_database: str, envelope_dir: Path, generated_count: int
) -> None:
    with psycopg.connect(clean_database, autocommit=True) as conn:
        ingest_paths([envelope_dir], PROJECT, conn, IngestOptions(workers=1))
        single = conn.execute(
            "SELECT h.hash, g.times_seen FROM group_hashes h "
            "JOIN groups g ON g.id = h.group_id ORDER BY h.hash"
        ).fetchall()
        conn.execute("TRUNCATE projects, groups, group_hashes, events, nodestore")
        report = ingest_paths([envelope_dir], PROJECT, conn, IngestOptions(workers=2))
        parallel = conn.execute(
            "SELECT h.hash, g.times_seen FROM group_hashes h "
            "JOIN groups g ON g.id = h.group_id ORDER BY h.hash"
        ).fetchall()
    assert report.events_loaded == generated_count
    assert parallel == single
