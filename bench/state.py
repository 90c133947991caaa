"""Undo what a measured run wrote, so the next one starts from the same data.

Clears the groups' Seer marks and the projects' completed option, empties
the batch ledger, then vacuums, so dead row versions of the previous run do
not slow the next one. The Seer-compatible service's records go with its
schema when `Services.restart_seer` starts a fresh service.
"""

from __future__ import annotations

import logging

import psycopg

from consumers.db.lookup import COMPLETED_OPTION

logger = logging.getLogger(__name__)


def reset_backfill_state(database_url: str) -> None:
    """Remove every trace of earlier backfill runs; keep the dataset."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        cleared = conn.execute(
            "UPDATE groups SET data = data #- '{metadata,seer_similarity}' "
            "WHERE data -> 'metadata' ? 'seer_similarity'"
        ).rowcount
        conn.execute(
            "UPDATE projects SET options = options - %s WHERE options ? %s",
            (COMPLETED_OPTION, COMPLETED_OPTION),
        )
        conn.execute("TRUNCATE backfill_ledger, backfill_splits")
        conn.execute("VACUUM ANALYZE groups")
        conn.execute("VACUUM ANALYZE backfill_ledger")
    logger.info("backfill state reset (%d group marks cleared)", cleared)
