"""Every public Sentry sample payload goes through ingest.

Two upstream samples are not valid JSON; they must be reported by name while
the rest load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from consumers.ingest import decode_payload, ingest_paths, node_id

PROJECT = 7
NOT_JSON = {"invalid-interfaces.json", "ruby.json"}


def sample_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.json"))


def test_samples_load_except_invalid_json(
    conn: psycopg.Connection[Any], sentry_samples_dir: Path
) -> None:
    files = sample_files(sentry_samples_dir)
    # The directory also contains a MANIFEST.tsv, which directory expansion skips.
    report = ingest_paths([sentry_samples_dir], PROJECT, conn)
    invalid = {Path(item.source).name: item for item in report.invalid}
    assert set(invalid) == NOT_JSON
    assert all(item.index is None for item in invalid.values())
    assert all(item.reason.startswith("invalid JSON: ") for item in invalid.values())
    assert report.events_loaded == len(files) - len(NOT_JSON)


def test_samples_reingest_is_noop(
    conn: psycopg.Connection[Any], sentry_samples_dir: Path
) -> None:
    files = sample_files(sentry_samples_dir)
    ingest_paths(files, PROJECT, conn)
    report = ingest_paths(files, PROJECT, conn)
    assert report.events_loaded == 0
    assert report.events_skipped == len(files) - len(NOT_JSON)


def test_samples_stored_hashes_kept(
    conn: psycopg.Connection[Any], sentry_samples_dir: Path
) -> None:
    ingest_paths(sample_files(sentry_samples_dir), PROJECT, conn)
    for path in sample_files(sentry_samples_dir):
        if path.name in NOT_JSON:
            continue
        raw = json.loads(path.read_text())
        if not raw.get("hashes") or not raw.get("event_id"):
            continue
        row = conn.execute(
            "SELECT data FROM nodestore WHERE id = %s",
            (node_id(PROJECT, raw["event_id"]),),
        ).fetchone()
        assert row is not None, path.name
        assert decode_payload(bytes(row[0]))["hashes"] == raw["hashes"], path.name


def test_samples_shift_to_now_in_window(
    conn: psycopg.Connection[Any], sentry_samples_dir: Path
) -> None:
    ingest_paths(sample_files(sentry_samples_dir), PROJECT, conn, shift_to_now=True)
    row = conn.execute(
        "SELECT count(*) FROM groups WHERE last_seen < now() - interval '90 days'"
    ).fetchone()
    assert row == (0,)
