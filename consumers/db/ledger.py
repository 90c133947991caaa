"""The batch ledger: at-most-once side effects for at-least-once delivery.

Every project-batch message has a batch key (`ProjectBatch.batch_key`). The
lookup stage claims the key for the message's coordinates before any side
effect; the onward stage marks it done once everything it produced is
acknowledged. A copy of the same batch (replayed topic, duplicate onward
message, scheduler run twice) then finds the key done, or claimed by another
live copy, and does nothing. A claim older than `claim_ttl_seconds` is
assumed abandoned (its consumer died and the message was skipped) and can be
taken over.
"""

from __future__ import annotations

import enum
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from consumers.messages import ProjectBatch


class Claim(enum.Enum):
    ACQUIRED = "acquired"  # this message does the work
    DONE = "done"  # another copy finished it
    HELD = "held"  # another copy is working on it


def claim(
    conn: psycopg.Connection[Any],
    batch: ProjectBatch,
    owner: str,
    claim_ttl_seconds: int,
) -> Claim:
    """Claim the batch for the message at `owner` (topic:partition:offset)."""
    row = conn.execute(
        """
        INSERT INTO backfill_ledger
            (batch_key, run_id, project_id, cursor, state, source)
        VALUES (%(key)s, %(run_id)s, %(project_id)s, %(cursor)s, 'pending', %(owner)s)
        ON CONFLICT (batch_key) DO UPDATE
            SET source = EXCLUDED.source, updated_at = now()
            WHERE backfill_ledger.state = 'pending'
                AND (backfill_ledger.source = EXCLUDED.source
                     OR backfill_ledger.updated_at
                        < now() - make_interval(secs => %(ttl)s))
        RETURNING state
        """,
        {
            "key": batch.batch_key,
            "run_id": batch.run_id,
            "project_id": batch.project_id,
            "cursor": batch.cursor,
            "owner": owner,
            "ttl": claim_ttl_seconds,
        },
    ).fetchone()
    if row is not None:
        return Claim.ACQUIRED
    existing = conn.execute(
        "SELECT state FROM backfill_ledger WHERE batch_key = %s", (batch.batch_key,)
    ).fetchone()
    if existing is not None and existing[0] == "done":
        return Claim.DONE
    return Claim.HELD


def save_result(
    conn: psycopg.Connection[Any],
    batch: ProjectBatch,
    accepted: int,
    filtered: dict[str, int],
) -> None:
    """Keep the batch's Seer result in its pending row.

    Call in the transaction that writes the group marks. A retry of the
    batch after a crash then reports the same accepted and filtered counts
    instead of counting its own marks as `already_processed`.
    """
    conn.execute(
        """
        UPDATE backfill_ledger
        SET outputs = jsonb_build_object('result', %s::jsonb), updated_at = now()
        WHERE batch_key = %s AND state = 'pending'
        """,
        (Jsonb({"accepted": accepted, "filtered": filtered}), batch.batch_key),
    )


def saved_result(
    conn: psycopg.Connection[Any], batch: ProjectBatch
) -> tuple[int, dict[str, int]] | None:
    """The result a previous attempt of this pending batch saved, if any."""
    row = conn.execute(
        "SELECT outputs -> 'result' FROM backfill_ledger "
        "WHERE batch_key = %s AND state = 'pending'",
        (batch.batch_key,),
    ).fetchone()
    if row is None or row[0] is None:
        return None
    result: dict[str, Any] = row[0]
    return int(result["accepted"]), {k: int(v) for k, v in result["filtered"].items()}


def release(conn: psycopg.Connection[Any], batch: ProjectBatch, owner: str) -> None:
    """Drop this message's claim so that a later copy (a DLQ replay) can do the work."""
    conn.execute(
        "DELETE FROM backfill_ledger WHERE batch_key = %s AND state = 'pending' "
        "AND source = %s",
        (batch.batch_key, owner),
    )


def complete(
    conn: psycopg.Connection[Any], batch: ProjectBatch, outputs: dict[str, Any]
) -> None:
    """Mark the batch done and keep a record of what it produced."""
    conn.execute(
        """
        UPDATE backfill_ledger
        SET state = 'done', outputs = %s, updated_at = now()
        WHERE batch_key = %s
        """,
        (Jsonb(outputs), batch.batch_key),
    )


def existing_keys(conn: psycopg.Connection[Any], keys: list[str]) -> set[str]:
    rows = conn.execute(
        "SELECT batch_key FROM backfill_ledger WHERE batch_key = ANY(%s)", (keys,)
    ).fetchall()
    return {row[0] for row in rows}


def lock_project(conn: psycopg.Connection[Any], batch: ProjectBatch) -> None:
    """Hold a lock on the run's project until the transaction ends."""
    conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, %s))",
        (batch.run_id, batch.project_id),
    )


def ended_chains(conn: psycopg.Connection[Any], batch: ProjectBatch) -> int:
    """Count the chains of the batch's project and run whose last batch is done.

    Only chains of a split into as many chains as this one count, by
    distinct floor. A project scheduled twice under one run id with
    different splits is then complete only when one split has ended in full.
    """
    row = conn.execute(
        """
        SELECT count(DISTINCT outputs -> 'chain_end' -> 'floor')
        FROM backfill_ledger
        WHERE run_id = %s AND project_id = %s AND state = 'done'
            AND (outputs -> 'chain_end' -> 'chains')::bigint = %s
        """,
        (batch.run_id, batch.project_id, batch.chains),
    ).fetchone()
    return int(row[0]) if row is not None else 0
