"""The batch ledger's claims against the real database."""

from __future__ import annotations

import psycopg

from consumers.db import ledger
from consumers.messages import ProjectBatch

BATCH = ProjectBatch(run_id="run-1", project_id=5, cursor=40)


def test_first_claim_acquires(clean_database: str) -> None:
    with psycopg.connect(clean_database) as conn:
        assert ledger.claim(conn, BATCH, "t:0:1", 3600) is ledger.Claim.ACQUIRED


def test_same_message_claims_again(clean_database: str) -> None:
    with psycopg.connect(clean_database) as conn:
        ledger.claim(conn, BATCH, "t:0:1", 3600)
        assert ledger.claim(conn, BATCH, "t:0:1", 3600) is ledger.Claim.ACQUIRED


def test_other_copy_is_held_off(clean_database: str) -> None:
    with psycopg.connect(clean_database) as conn:
        ledger.claim(conn, BATCH, "t:0:1", 3600)
        assert ledger.claim(conn, BATCH, "t:0:9", 3600) is ledger.Claim.HELD


def test_done_batch_is_reported_done(clean_database: str) -> None:
    with psycopg.connect(clean_database) as conn:
        ledger.claim(conn, BATCH, "t:0:1", 3600)
        ledger.complete(conn, BATCH, {"accepted": 3})
        assert ledger.claim(conn, BATCH, "t:0:1", 3600) is ledger.Claim.DONE
        assert ledger.claim(conn, BATCH, "t:0:9", 3600) is ledger.Claim.DONE


def test_stale_claim_is_taken_over(clean_database: str) -> None:
    with psycopg.connect(clean_database) as conn:
        ledger.claim(conn, BATCH, "t:0:1", 3600)
        conn.execute(
            "UPDATE backfill_ledger SET updated_at = now() - interval '2 hours'"
        )
        assert ledger.claim(conn, BATCH, "t:0:9", 3600) is ledger.Claim.ACQUIRED


def test_released_claim_frees_the_batch(clean_database: str) -> None:
    with psycopg.connect(clean_database) as conn:
        ledger.claim(conn, BATCH, "t:0:1", 3600)
        ledger.release(conn, BATCH, "t:0:1")
        assert ledger.claim(conn, BATCH, "t:0:9", 3600) is ledger.Claim.ACQUIRED


def test_batches_differ_by_cursor(clean_database: str) -> None:
    with psycopg.connect(clean_database) as conn:
        ledger.claim(conn, BATCH, "t:0:1", 3600)
        ledger.complete(conn, BATCH, {})
        following = BATCH.replace(cursor=20)
        assert ledger.claim(conn, following, "t:0:2", 3600) is ledger.Claim.ACQUIRED
