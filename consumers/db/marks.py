"""Writes to the group table: Seer marks, their removal, and project options.

Marks are set with a JSON-path update of `data.metadata.seer_similarity`, so
that concurrent writers of other keys of `data` are never overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from consumers.db.lookup import COMPLETED_OPTION


def set_seer_marks(
    conn: psycopg.Connection[Any],
    project_id: int,
    marks: Mapping[int, dict[str, Any]],
) -> int:
    """Set `data.metadata.seer_similarity` of each group; return rows updated."""
    if not marks:
        return 0
    group_ids = list(marks)
    values = [Jsonb(marks[group_id]) for group_id in group_ids]
    cursor = conn.execute(
        """
        UPDATE groups g
        SET data = jsonb_set(
            g.data,
            '{metadata}',
            CASE WHEN jsonb_typeof(g.data -> 'metadata') = 'object'
                THEN g.data -> 'metadata' ELSE '{}'::jsonb END
            || jsonb_build_object('seer_similarity', m.mark)
        )
        FROM unnest(%s::bigint[], %s::jsonb[]) AS m(id, mark)
        WHERE g.id = m.id AND g.project_id = %s
        """,
        (group_ids, values, project_id),
    )
    return cursor.rowcount


def clear_seer_marks(
    conn: psycopg.Connection[Any], project_id: int, chunk_size: int
) -> int:
    """Remove the Seer mark from up to `chunk_size` groups; return how many."""
    cursor = conn.execute(
        """
        UPDATE groups
        SET data = data #- '{metadata,seer_similarity}'
        WHERE id IN (
            SELECT id FROM groups
            WHERE project_id = %s AND data -> 'metadata' ? 'seer_similarity'
            ORDER BY id
            LIMIT %s
        )
        """,
        (project_id, chunk_size),
    )
    return cursor.rowcount


def set_backfill_completed(
    conn: psycopg.Connection[Any], project_id: int, epoch_seconds: int
) -> None:
    """Set the completed option unless it is set already (the first time wins)."""
    conn.execute(
        """
        UPDATE projects
        SET options = options || jsonb_build_object(%s::text, %s::bigint)
        WHERE id = %s AND NOT options ? %s
        """,
        (COMPLETED_OPTION, epoch_seconds, project_id, COMPLETED_OPTION),
    )


def groups_for_hashes(
    conn: psycopg.Connection[Any], project_id: int, hashes: Sequence[str]
) -> dict[str, int]:
    """Map each hash that belongs to a group of the project to that group's id."""
    if not hashes:
        return {}
    rows = conn.execute(
        "SELECT hash, group_id FROM group_hashes "
        "WHERE project_id = %s AND hash = ANY(%s)",
        (project_id, list(hashes)),
    ).fetchall()
    return {row[0]: row[1] for row in rows}
