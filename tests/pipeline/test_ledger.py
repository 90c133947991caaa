"""The batch ledger's claims against the real database."""

from __future__ import annotations

import threading

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


def _end_chain(
    conn: psycopg.Connection[tuple[object, ...]], chain: ProjectBatch
) -> int:
    """What the onward stage does with a chain's last batch; returns the count."""
    ledger.lock_project(conn, chain)
    ledger.complete(
        conn,
        chain,
        {"chain_end": {"chains": chain.chains, "floor": chain.min_group_id}},
    )
    return ledger.ended_chains(conn, chain)


def test_last_chain_end_counts_all_chains(clean_database: str) -> None:
    first = ProjectBatch(run_id="r", project_id=5, cursor=9, min_group_id=0, chains=2)
    second = first.replace(cursor=None, min_group_id=9)
    for chain in (first, second):
        with psycopg.connect(clean_database) as conn:
            ledger.claim(conn, chain, f"t:0:{chain.min_group_id}", 3600)
            conn.commit()

    counts: list[int] = []
    with psycopg.connect(clean_database) as a, psycopg.connect(clean_database) as b:
        counts.append(_end_chain(a, first))
        # The second chain's end waits for the first's transaction, so it
        # cannot count before the first one is visible.
        waiter = threading.Thread(target=lambda: counts.append(_end_chain(b, second)))
        waiter.start()
        waiter.join(timeout=0.5)
        assert waiter.is_alive()
        a.commit()
        waiter.join(timeout=10)
        b.commit()
    assert counts == [1, 2]


def test_chain_ends_of_another_split_do_not_count(clean_database: str) -> None:
    chain = ProjectBatch(run_id="r", project_id=5, cursor=9, min_group_id=0, chains=2)
    other_split = chain.replace(chains=3, cursor=None, min_group_id=4)
    with psycopg.connect(clean_database) as conn:
        for batch in (other_split, chain):
            ledger.claim(conn, batch, "t:0:1", 3600)
        assert _end_chain(conn, other_split) == 1
        assert _end_chain(conn, chain) == 1
