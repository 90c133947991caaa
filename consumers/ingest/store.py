"""Write a batch of prepared events: project, groups, hashes, events, node store.

One transaction per batch, about ten statements whatever its size. The
batch holds a transaction-scoped advisory lock on the project, so two
ingests of the same project never race to create the same group, and the
"which events are new" check cannot go stale before the insert.

Group assignment follows Sentry: the event joins the group of its first
hash that already has one; otherwise a new group is created. Every hash of
the event without a group is then attached to that group. Only events that
are new to the `events` table count towards `times_seen`, so replaying a
batch changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from consumers.ingest.nodestore import node_id
from consumers.ingest.prepare import PreparedEvent

# Key space of the per-project ingest lock (pg_advisory_xact_lock(bigint)).
_LOCK_SQL = (
    "SELECT pg_advisory_xact_lock(hashtextextended('seer-backfill:ingest:' || %s, 0))"
)

_INSERT_GROUPS = """
INSERT INTO groups
    (id, project_id, type, status, times_seen, first_seen, last_seen, message, data)
SELECT u.id, %(project_id)s, 1, 0, u.times_seen, u.first_seen, u.last_seen,
    u.message, u.data::jsonb
FROM unnest(%(ids)s::bigint[], %(times_seen)s::int[], %(first_seen)s::timestamptz[],
            %(last_seen)s::timestamptz[], %(messages)s::text[], %(data)s::text[])
    AS u(id, times_seen, first_seen, last_seen, message, data)
"""

# Newer events refresh the group's title, culprit and metadata. Metadata is
# merged key by key, so keys written by others (the Seer mark) survive.
_UPDATE_GROUPS = """
UPDATE groups g SET
    times_seen = g.times_seen + u.times_seen,
    first_seen = LEAST(g.first_seen, u.first_seen),
    last_seen = GREATEST(g.last_seen, u.last_seen),
    message = CASE WHEN u.last_seen > g.last_seen THEN u.message ELSE g.message END,
    data = CASE WHEN u.last_seen > g.last_seen THEN
        g.data || (u.data::jsonb - 'metadata') || jsonb_build_object(
            'metadata',
            COALESCE(g.data -> 'metadata', '{}'::jsonb)
                || (u.data::jsonb -> 'metadata'))
        ELSE g.data END
FROM unnest(%(ids)s::bigint[], %(times_seen)s::int[], %(first_seen)s::timestamptz[],
            %(last_seen)s::timestamptz[], %(messages)s::text[], %(data)s::text[])
    AS u(id, times_seen, first_seen, last_seen, message, data)
WHERE g.id = u.id AND g.project_id = %(project_id)s
"""

_INSERT_HASHES = """
INSERT INTO group_hashes (project_id, hash, group_id)
SELECT %(project_id)s, u.hash, u.group_id
FROM unnest(%(hashes)s::text[], %(group_ids)s::bigint[]) AS u(hash, group_id)
ON CONFLICT (project_id, hash) DO NOTHING
"""

_INSERT_EVENTS = """
INSERT INTO events (project_id, event_id, group_id, timestamp)
SELECT %(project_id)s, u.event_id, u.group_id, u.timestamp
FROM unnest(%(event_ids)s::uuid[], %(group_ids)s::bigint[],
            %(timestamps)s::timestamptz[])
    AS u(event_id, group_id, timestamp)
ON CONFLICT (project_id, event_id) DO NOTHING
"""

# Only new events reach this statement; a node left behind by an earlier,
# partly deleted load is replaced by the fresh payload.
_INSERT_NODES = """
INSERT INTO nodestore (id, data)
SELECT u.id, u.data FROM unnest(%(ids)s::text[], %(data)s::bytea[]) AS u(id, data)
ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, timestamp = now()
"""


@dataclass(frozen=True)
class ProjectSettings:
    """Values for the project row when ingest creates it; an existing row is kept."""

    id: int
    organization_id: int = 1
    slug: str | None = None
    platform: str | None = None


@dataclass(frozen=True)
class BatchResult:
    loaded: int
    skipped: int
    created_group_ids: frozenset[int]
    updated_group_ids: frozenset[int]


@dataclass
class _GroupDelta:
    """New events of one group within a batch; `latest` supplies the summary."""

    times_seen: int
    first_seen: datetime
    last_seen: datetime
    latest: PreparedEvent
    new: bool

    def add(self, event: PreparedEvent) -> None:
        self.times_seen += 1
        self.first_seen = min(self.first_seen, event.timestamp)
        if event.timestamp >= self.last_seen:
            self.last_seen = event.timestamp
            self.latest = event


@dataclass
class _Assignment:
    group_of_hash: dict[str, int]
    group_of_event: dict[str, int] = field(default_factory=dict)
    new_hashes: dict[str, int] = field(default_factory=dict)
    deltas: dict[int, _GroupDelta] = field(default_factory=dict)


def _ensure_project(
    conn: psycopg.Connection[Any], project: ProjectSettings, platform: str | None
) -> None:
    conn.execute(
        "INSERT INTO projects (id, organization_id, slug, platform) "
        "VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (id) DO NOTHING",
        (
            project.id,
            project.organization_id,
            project.slug or f"project-{project.id}",
            platform,
        ),
    )


def _new_events(
    conn: psycopg.Connection[Any], project_id: int, events: Sequence[PreparedEvent]
) -> list[PreparedEvent]:
    """Drop events already stored and repeats within the batch (first wins)."""
    unique: dict[str, PreparedEvent] = {}
    for event in events:
        unique.setdefault(event.event_id, event)
    rows = conn.execute(
        "SELECT replace(event_id::text, '-', '') FROM events "
        "WHERE project_id = %s AND event_id = ANY(%s::uuid[])",
        (project_id, list(unique)),
    ).fetchall()
    stored = {row[0] for row in rows}
    return [event for event_id, event in unique.items() if event_id not in stored]


def _allocate_group_ids(conn: psycopg.Connection[Any], count: int) -> list[int]:
    if count == 0:
        return []
    rows = conn.execute(
        "SELECT nextval(pg_get_serial_sequence('groups', 'id')) "
        "FROM generate_series(1, %s)",
        (count,),
    ).fetchall()
    return [row[0] for row in rows]


def _assign_groups(
    conn: psycopg.Connection[Any], project_id: int, events: Sequence[PreparedEvent]
) -> _Assignment:
    all_hashes = sorted({h for event in events for h in event.hashes})
    rows = conn.execute(
        "SELECT hash, group_id FROM group_hashes "
        "WHERE project_id = %s AND hash = ANY(%s::text[])",
        (project_id, all_hashes),
    ).fetchall()
    assignment = _Assignment(group_of_hash={row[0]: row[1] for row in rows})
    needing_group = [
        e for e in events if not any(h in assignment.group_of_hash for h in e.hashes)
    ]
    # Upper bound: events that share a hash within the batch share one new group.
    fresh_ids = iter(_allocate_group_ids(conn, len(needing_group)))
    created: set[int] = set()
    for event in events:
        group_id = next(
            (
                assignment.group_of_hash[h]
                for h in event.hashes
                if h in assignment.group_of_hash
            ),
            None,
        )
        if group_id is None:
            group_id = next(fresh_ids)
            created.add(group_id)
        for event_hash in event.hashes:
            if event_hash not in assignment.group_of_hash:
                assignment.group_of_hash[event_hash] = group_id
                assignment.new_hashes[event_hash] = group_id
        assignment.group_of_event[event.event_id] = group_id
        delta = assignment.deltas.get(group_id)
        if delta is None:
            assignment.deltas[group_id] = _GroupDelta(
                1, event.timestamp, event.timestamp, event, group_id in created
            )
        else:
            delta.add(event)
    return assignment


def _group_params(project_id: int, deltas: dict[int, _GroupDelta]) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "ids": list(deltas),
        "times_seen": [d.times_seen for d in deltas.values()],
        "first_seen": [d.first_seen for d in deltas.values()],
        "last_seen": [d.last_seen for d in deltas.values()],
        "messages": [d.latest.summary.message for d in deltas.values()],
        "data": [json.dumps(d.latest.summary.data()) for d in deltas.values()],
    }


def write_batch(
    conn: psycopg.Connection[Any],
    project: ProjectSettings,
    events: Sequence[PreparedEvent],
) -> BatchResult:
    """Write `events` of one project in one transaction and return what changed.

    Commits when the connection was idle; inside a caller's open transaction
    it runs as a savepoint and the caller commits. Raises `psycopg.Error` on
    database errors, after rolling the batch back. Safe to replay.
    """
    if not events:
        return BatchResult(0, 0, frozenset(), frozenset())
    with conn.transaction():
        platform = project.platform or next(
            (e.platform for e in events if e.platform), None
        )
        _ensure_project(conn, project, platform)
        conn.execute(_LOCK_SQL, (str(project.id),))
        new = _new_events(conn, project.id, events)
        if not new:
            return BatchResult(0, len(events), frozenset(), frozenset())
        assignment = _assign_groups(conn, project.id, new)
        created = {gid: d for gid, d in assignment.deltas.items() if d.new}
        updated = {gid: d for gid, d in assignment.deltas.items() if not d.new}
        if created:
            conn.execute(_INSERT_GROUPS, _group_params(project.id, created))
        if updated:
            conn.execute(_UPDATE_GROUPS, _group_params(project.id, updated))
        if assignment.new_hashes:
            conn.execute(
                _INSERT_HASHES,
                {
                    "project_id": project.id,
                    "hashes": list(assignment.new_hashes),
                    "group_ids": list(assignment.new_hashes.values()),
                },
            )
        conn.execute(
            _INSERT_EVENTS,
            {
                "project_id": project.id,
                "event_ids": [e.event_id for e in new],
                "group_ids": [assignment.group_of_event[e.event_id] for e in new],
                "timestamps": [e.timestamp for e in new],
            },
        )
        conn.execute(
            _INSERT_NODES,
            {
                "ids": [node_id(project.id, e.event_id) for e in new],
                "data": [e.payload for e in new],
            },
        )
    return BatchResult(
        loaded=len(new),
        skipped=len(events) - len(new),
        created_group_ids=frozenset(created),
        updated_group_ids=frozenset(updated),
    )
