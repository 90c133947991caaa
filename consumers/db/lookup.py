"""Queries of the lookup stage: one round trip per step of a batch.

The functions take an open connection and do not commit; the lookup stage
runs them in one read-only transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from consumers.pipeline.types import Project

COMPLETED_OPTION = "sentry:similarity_backfill_completed"
KILLSWITCH_KEY = "killswitch"
SEER_MODEL_VERSION = "v0"

# Eligibility rules for a group, evaluated in SQL so that one query returns
# every group of the batch with the reason it is skipped (NULL = eligible).
_BATCH_SQL = """
SELECT g.id, g.last_seen,
    CASE
        WHEN g.type <> 1 THEN 'not_error'
        WHEN g.status IN (3, 4) THEN 'pending_deletion'
        WHEN g.times_seen <= 1 THEN 'seen_once'
        WHEN g.last_seen < now() - make_interval(days => %(max_age_days)s)
            THEN 'too_old'
        WHEN g.data #>> '{metadata,seer_similarity,similarity_model_version}'
            = %(model_version)s THEN 'already_processed'
    END AS skip_reason
FROM groups g
WHERE g.project_id = %(project_id)s
    AND (%(cursor)s::bigint IS NULL OR g.id < %(cursor)s::bigint)
    AND (%(floor)s::bigint IS NULL OR g.id >= %(floor)s::bigint)
ORDER BY g.id DESC
LIMIT %(limit)s
"""

# The latest event of each group near its last_seen, per group: a group with
# no event in the window drops out alone.
_LATEST_EVENTS_SQL = """
SELECT b.group_id, replace(e.event_id::text, '-', '')
FROM unnest(%(group_ids)s::bigint[], %(last_seen)s::timestamptz[])
    AS b(group_id, last_seen)
CROSS JOIN LATERAL (
    SELECT ev.event_id
    FROM events ev
    WHERE ev.project_id = %(project_id)s
        AND ev.group_id = b.group_id
        AND ev.timestamp BETWEEN b.last_seen - %(window)s::interval
            AND b.last_seen + %(window)s::interval
    ORDER BY ev.timestamp DESC
    LIMIT 1
) e
"""


@dataclass(frozen=True)
class GroupRow:
    id: int
    last_seen: datetime
    skip_reason: str | None


def fetch_project(
    conn: psycopg.Connection[Any], project_id: int
) -> tuple[Project, dict[str, Any]] | None:
    row = conn.execute(
        "SELECT id, organization_id, platform, options FROM projects WHERE id = %s",
        (project_id,),
    ).fetchone()
    if row is None:
        return None
    return Project(id=row[0], organization_id=row[1], platform=row[2]), dict(
        row[3] or {}
    )


def killswitch_enabled(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "SELECT value FROM backfill_options WHERE key = %s", (KILLSWITCH_KEY,)
    ).fetchone()
    return bool(row and row[0] is True)


def fetch_group_batch(
    conn: psycopg.Connection[Any],
    project_id: int,
    cursor: int | None,
    limit: int,
    max_age_days: int,
    floor: int | None = None,
) -> list[GroupRow]:
    """The next `limit` groups by id descending, below `cursor` (None: from
    the newest) and at or above `floor` (None: down to the oldest)."""
    rows = conn.execute(
        _BATCH_SQL,
        {
            "project_id": project_id,
            "cursor": cursor,
            "floor": floor,
            "limit": limit,
            "max_age_days": max_age_days,
            "model_version": SEER_MODEL_VERSION,
        },
    ).fetchall()
    return [GroupRow(id=r[0], last_seen=r[1], skip_reason=r[2]) for r in rows]


def fetch_latest_events(
    conn: psycopg.Connection[Any],
    project_id: int,
    groups: Sequence[GroupRow],
    window_seconds: int,
) -> dict[int, str]:
    """Map group id to the id (32 hex digits, no dashes) of its latest event
    within the window; Sentry's node ids are built from that form."""
    if not groups:
        return {}
    rows = conn.execute(
        _LATEST_EVENTS_SQL,
        {
            "project_id": project_id,
            "group_ids": [g.id for g in groups],
            "last_seen": [g.last_seen for g in groups],
            "window": f"{window_seconds} seconds",
        },
    ).fetchall()
    return {row[0]: row[1] for row in rows}


def fetch_payloads(
    conn: psycopg.Connection[Any], node_ids: Sequence[str]
) -> dict[str, bytes]:
    if not node_ids:
        return {}
    rows = conn.execute(
        "SELECT id, data FROM nodestore WHERE id = ANY(%s)", (list(node_ids),)
    ).fetchall()
    return {row[0]: bytes(row[1]) for row in rows}


def fetch_worker_cohort(
    conn: psycopg.Connection[Any],
    worker_number: int,
    total_workers: int,
    after_project_id: int | None,
    size: int,
) -> list[int]:
    """The next cohort of a worker: its projects after `after_project_id`, by id."""
    rows = conn.execute(
        """
        SELECT id FROM projects
        WHERE abs(hashtext(id::text)) %% %(total)s = %(worker)s
            AND (%(after)s::bigint IS NULL OR id > %(after)s::bigint)
        ORDER BY id
        LIMIT %(size)s
        """,
        {
            "total": total_workers,
            "worker": worker_number,
            "after": after_project_id,
            "size": size,
        },
    ).fetchall()
    return [row[0] for row in rows]
