"""Build the benchmark dataset in PostgreSQL: projects, groups, hashes, events, nodes.

The real sentry-sdk captures a few hundred events once; after Relay's
normaliser, one event per distinct grouping hash is kept as a base. Group
`i` gets variation `i // len(bases)` of base `i % len(bases)`
(`consumers.samples.vary_event`: renamed in-app functions and modules,
shortened chains, tagged messages), so no two groups share their content.
Worker processes serialise and compress the payloads, and the main process
writes the rows with `COPY`, one transaction per chunk.

Every group is eligible for the backfill: an error, unresolved, seen 2 or
more times and last seen within the last 80 days. It has one event, whose
timestamp equals `last_seen` and whose node-store payload is the
zlib-compressed event JSON under md5("{project_id}:{event_id}").

The payload's stored `hashes` (and the group's `group_hashes` row) is a
synthetic 32-hex-digit hash, md5 of the seed and the group id, because
computing the real grouping hash of a million events would take about 10
minutes of CPU time (an estimate from 0.5 to 0.8 ms per event). Sentry's
stored events carry their hashes too, and the consumer computes every
event's grouping variants for the stacktrace string either way, so its work
is the same. `sample_distinct_hashes` checks on a sample that the real
hashes of the variations are distinct as well.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import random
import signal
import sys
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from tqdm import tqdm

from consumers.grouping import (
    calculate_grouping,
    get_stacktrace_string,
    load_enhancements,
    normalize_event,
)
from consumers.ingest.metadata import summarize
from consumers.ingest.nodestore import node_id
from consumers.samples import generate_events, vary_event

logger = logging.getLogger(__name__)

Event = dict[str, Any]

# Groups per task of a worker process and per COPY transaction.
CHUNK_GROUPS = 2_000
MARKER_TABLE = "bench_dataset"


@dataclass(frozen=True)
class DatasetConfig:
    """Settings of a dataset. `projects` None means one project per 100
    groups, at least 10 and at most one per group."""

    groups: int = 10_000
    projects: int | None = None
    zipf_exponent: float = 1.0
    sdk_events: int = 300
    seed: int = 1
    workers: int = 2

    def project_count(self) -> int:
        if self.projects is not None:
            return self.projects
        return max(1, min(self.groups, max(10, self.groups // 100)))

    def marker(self) -> dict[str, Any]:
        """Return the settings that define the data, stored with a built dataset."""
        return {
            "groups": self.groups,
            "projects": self.project_count(),
            "zipf_exponent": self.zipf_exponent,
            "sdk_events": self.sdk_events,
            "seed": self.seed,
        }


@dataclass(frozen=True)
class DatasetInfo:
    """A built (or reused) dataset."""

    config: DatasetConfig
    project_sizes: tuple[int, ...]
    base_events: int
    payload_bytes: int
    build_seconds: float
    reused: bool

    @property
    def largest_project(self) -> int:
        return max(self.project_sizes)


def project_sizes(groups: int, projects: int, exponent: float) -> list[int]:
    """Split `groups` over `projects` with Zipf-like weights 1 / rank**exponent.

    Every project gets at least one group; the rest follows the weights by
    the largest-remainder method, so the sizes add up to `groups` exactly.
    Raises `ValueError` when there are fewer groups than projects.
    """
    if projects < 1 or groups < projects:
        raise ValueError(
            f"cannot split {groups} groups over {projects} projects: "
            "use at least one group per project"
        )
    weights = [1.0 / (rank + 1) ** exponent for rank in range(projects)]
    total = sum(weights)
    spare = groups - projects
    shares = [spare * w / total for w in weights]
    sizes = [1 + int(share) for share in shares]
    remainder = groups - sum(sizes)
    by_fraction = sorted(
        range(projects), key=lambda i: shares[i] - int(shares[i]), reverse=True
    )
    for index in by_fraction[:remainder]:
        sizes[index] += 1
    return sizes


def synthetic_hash(seed: int, group_id: int) -> str:
    return hashlib.md5(f"bench:{seed}:{group_id}".encode()).hexdigest()


def capture_base_events(count: int, seed: int) -> list[Event]:
    """Capture `count` SDK events, normalise them, keep one per grouping hash."""
    enhancements = load_enhancements(None)
    bases: dict[str, Event] = {}
    for raw in generate_events(count, seed=seed):
        event = normalize_event(dict(raw), project_id=1)
        result = calculate_grouping(
            event, enhancements=enhancements, include_overruled=False
        )
        if result.primary_hash:
            bases.setdefault(result.primary_hash, event)
    if not bases:
        raise RuntimeError(f"the {count} SDK events yielded no grouping hash")
    return list(bases.values())


def sample_distinct_hashes(
    bases: Sequence[Event], groups: int, sample: int, seed: int
) -> tuple[int, int]:
    """Hash `sample` random groups' events; return (sampled, distinct hashes)."""
    enhancements = load_enhancements(None)
    rng = random.Random(seed)
    indexes = rng.sample(range(groups), min(sample, groups))
    hashes: set[str] = set()
    for index in indexes:
        event = vary_event(bases[index % len(bases)], index // len(bases))
        result = calculate_grouping(
            event, enhancements=enhancements, include_overruled=False
        )
        stacktrace = get_stacktrace_string(result.grouping_info(), platform="python")
        hashes.add(
            f"{result.primary_hash}:{hashlib.md5(stacktrace.encode()).hexdigest()}"
        )
    return len(indexes), len(hashes)


@dataclass(frozen=True)
class _ChunkTask:
    first_index: int
    project_ids: tuple[int, ...]
    now: float
    seed: int


@dataclass(frozen=True)
class _ChunkRows:
    groups: list[tuple[Any, ...]]
    hashes: list[tuple[Any, ...]]
    events: list[tuple[Any, ...]]
    nodes: list[tuple[Any, ...]]
    payload_bytes: int


_worker_bases: list[Event] = []


def _init_worker(bases: list[Event]) -> None:
    global _worker_bases
    _worker_bases = bases
    # A forked worker inherits the benchmark's SIGTERM handler, which raises
    # SystemExit. Raised inside the pool's queue code, that can leave the
    # worker waiting on a queue lock forever, so SIGTERM must simply end it.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _build_chunk(task: _ChunkTask) -> _ChunkRows:
    bases = _worker_bases
    rng = random.Random(f"{task.seed}:{task.first_index}")
    groups: list[tuple[Any, ...]] = []
    hashes: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    nodes: list[tuple[Any, ...]] = []
    payload_bytes = 0
    for offset, project_id in enumerate(task.project_ids):
        index = task.first_index + offset
        group_id = index + 1
        event = vary_event(bases[index % len(bases)], index // len(bases))
        last_seen_epoch = task.now - rng.uniform(3_600, 80 * 86_400)
        last_seen = datetime.fromtimestamp(last_seen_epoch, UTC)
        first_seen = last_seen - timedelta(seconds=rng.uniform(0, 30 * 86_400))
        times_seen = 2 + int(rng.expovariate(0.1))
        primary_hash = synthetic_hash(task.seed, group_id)
        event["timestamp"] = last_seen_epoch
        event["received"] = last_seen_epoch
        event["project"] = project_id
        event["hashes"] = [primary_hash]
        summary = summarize(event)
        payload = zlib.compress(
            json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
        )
        payload_bytes += len(payload)
        groups.append(
            (
                group_id,
                project_id,
                times_seen,
                first_seen,
                last_seen,
                summary.message,
                json.dumps(summary.data()),
            )
        )
        hashes.append((project_id, primary_hash, group_id))
        events.append((project_id, event["event_id"], group_id, last_seen))
        nodes.append((node_id(project_id, event["event_id"]), payload, last_seen))
    return _ChunkRows(groups, hashes, events, nodes, payload_bytes)


def _plan_tasks(config: DatasetConfig, sizes: Sequence[int]) -> Iterator[_ChunkTask]:
    # Interleave the projects' group ids, as ids are allocated in Sentry.
    assignment = [
        project_id
        for project_id, size in enumerate(sizes, start=1)
        for _ in range(size)
    ]
    random.Random(config.seed).shuffle(assignment)
    now = datetime.now(UTC).timestamp()
    for start in range(0, len(assignment), CHUNK_GROUPS):
        yield _ChunkTask(
            first_index=start,
            project_ids=tuple(assignment[start : start + CHUNK_GROUPS]),
            now=now,
            seed=config.seed,
        )


def _copy_chunk(conn: psycopg.Connection[Any], rows: _ChunkRows) -> None:
    with conn.cursor() as cursor:
        with cursor.copy(
            "COPY groups (id, project_id, times_seen, first_seen, last_seen, "
            "message, data) FROM STDIN"
        ) as copy:
            for row in rows.groups:
                copy.write_row(row)
        with cursor.copy(
            "COPY group_hashes (project_id, hash, group_id) FROM STDIN"
        ) as copy:
            for row in rows.hashes:
                copy.write_row(row)
        with cursor.copy(
            "COPY events (project_id, event_id, group_id, timestamp) FROM STDIN"
        ) as copy:
            for row in rows.events:
                copy.write_row(row)
        with cursor.copy(
            "COPY nodestore (id, data, timestamp) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["text", "bytea", "timestamptz"])
            for row in rows.nodes:
                copy.write_row(row)
    conn.commit()


def stored_marker(conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
    """Return the marker of the dataset in this database, or None."""
    exists = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (MARKER_TABLE,)
    ).fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute(f"SELECT config FROM {MARKER_TABLE} WHERE id = 1").fetchone()
    return dict(row[0]) if row else None


def _has_rows(conn: psycopg.Connection[Any]) -> bool:
    # Projects are written and committed first, so an interrupted build
    # leaves projects without groups.
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM projects) OR EXISTS (SELECT 1 FROM groups)"
    ).fetchone()
    return row == (True,)


def _write_projects(conn: psycopg.Connection[Any], count: int) -> None:
    with (
        conn.cursor() as cursor,
        cursor.copy(
            "COPY projects (id, organization_id, slug, platform) FROM STDIN"
        ) as copy,
    ):
        for project_id in range(1, count + 1):
            copy.write_row((project_id, 1, f"bench-{project_id}", "python"))
    conn.commit()


def _finish(conn: psycopg.Connection[Any], config: DatasetConfig) -> None:
    conn.execute(
        "SELECT setval(pg_get_serial_sequence('groups', 'id'), "
        "(SELECT max(id) FROM groups))"
    )
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} "
        "(id int PRIMARY KEY, config jsonb NOT NULL, built_at timestamptz NOT NULL)"
    )
    conn.execute(
        f"INSERT INTO {MARKER_TABLE} (id, config, built_at) VALUES (1, %s, now())",
        (Jsonb(config.marker()),),
    )
    conn.commit()
    conn.autocommit = True
    conn.execute("ANALYZE")
    conn.autocommit = False


def check_dataset(conn: psycopg.Connection[Any], groups: int) -> list[str]:
    """Check the eligibility invariants; return what is wrong (empty when fine)."""
    problems: list[str] = []
    checks = {
        "groups": "SELECT count(*) FROM groups",
        "eligible groups": """
            SELECT count(*) FROM groups WHERE type = 1 AND status NOT IN (3, 4)
            AND times_seen > 1 AND last_seen > now() - interval '90 days'
        """,
        "groups with an event near last_seen": """
            SELECT count(*) FROM groups g WHERE EXISTS (
                SELECT 1 FROM events e WHERE e.project_id = g.project_id
                AND e.group_id = g.id AND e.timestamp
                    BETWEEN g.last_seen - interval '60 seconds'
                    AND g.last_seen + interval '60 seconds')
        """,
        "events with a node-store payload": """
            SELECT count(*) FROM events e WHERE EXISTS (
                SELECT 1 FROM nodestore n WHERE n.id = md5(
                    e.project_id::text || ':' || replace(e.event_id::text, '-', '')))
        """,
        "distinct group hashes": "SELECT count(DISTINCT hash) FROM group_hashes",
    }
    for name, query in checks.items():
        row = conn.execute(query).fetchone()
        found = int(row[0]) if row else 0
        if found != groups:
            problems.append(f"{name}: {found}, expected {groups}")
    return problems


def build_dataset(database_url: str, config: DatasetConfig) -> DatasetInfo:
    """Build the dataset, or reuse one built with the same settings.

    Raises `RuntimeError` when the database contains other projects or groups
    (the benchmark needs an empty, migrated database) or when a check fails
    after the build.
    """
    projects = config.project_count()
    sizes = project_sizes(config.groups, projects, config.zipf_exponent)
    started = datetime.now(UTC)
    with psycopg.connect(database_url) as conn:
        marker = stored_marker(conn)
        if marker == config.marker():
            logger.info("reusing the dataset already in the database: %s", marker)
            row = conn.execute("SELECT sum(length(data)) FROM nodestore").fetchone()
            return DatasetInfo(
                config, tuple(sizes), 0, int(row[0] or 0) if row else 0, 0.0, True
            )
        if marker is not None:
            raise RuntimeError(
                f"the database contains another benchmark dataset {marker}: pass "
                "the same dataset settings to reuse it, or use an empty database"
            )
        if _has_rows(conn):
            raise RuntimeError(
                "the database contains projects or groups but no finished "
                "benchmark dataset (an interrupted build leaves them): use an "
                "empty database, for example a new one"
            )

        bases = capture_base_events(config.sdk_events, config.seed)
        logger.info(
            "%d SDK events gave %d distinct base events",
            config.sdk_events,
            len(bases),
        )
        _write_projects(conn, projects)
        payload_bytes = 0
        progress = tqdm(
            total=config.groups,
            unit="group",
            desc="building dataset",
            disable=not sys.stderr.isatty(),
        )
        context = multiprocessing.get_context("fork")
        pool = context.Pool(
            max(1, config.workers), initializer=_init_worker, initargs=(bases,)
        )
        try:
            for rows in pool.imap(_build_chunk, _plan_tasks(config, sizes)):
                _copy_chunk(conn, rows)
                payload_bytes += rows.payload_bytes
                progress.update(len(rows.groups))
            # Idle workers exit on the sentinels that close() queues, so no
            # signal has to reach a worker inside the queue's code.
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
        progress.close()
        _finish(conn, config)
        problems = check_dataset(conn, config.groups)
        if problems:
            raise RuntimeError("dataset check failed: " + "; ".join(problems))
    seconds = (datetime.now(UTC) - started).total_seconds()
    return DatasetInfo(config, tuple(sizes), len(bases), payload_bytes, seconds, False)


def describe(info: DatasetInfo) -> dict[str, Any]:
    """Plain values of the dataset for the report."""
    return {
        **asdict(info.config),
        "projects": len(info.project_sizes),
        "largest_project": info.largest_project,
        "smallest_project": min(info.project_sizes),
        "base_events": info.base_events,
        "payload_mb": round(info.payload_bytes / 1e6, 1),
        "build_seconds": round(info.build_seconds, 1),
        "reused": info.reused,
    }
