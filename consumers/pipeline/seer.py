"""Stage 4, Seer: `HashedBatch` → `BatchResult`.

Runs in a thread pool (`ThreadedStage`). Sends the batch's records to
Seer in chunks, several requests at once on a shared executor, then marks
the groups in PostgreSQL with one bulk JSON-path update. In delete mode it
deletes the project's Seer records and clears the marks in chunks.

Failure contract:
- `SeerUnavailable` (timeouts, connection errors, 5xx after the client's own
  retries): the chunk is retried with capped backoff until
  `seer_outage_timeout_seconds`, then `SeerOutage` stops the consumer
  without committing, so the project's chain resumes from this batch.
- `SeerMisconfigured` (401, 403, 404, 405: a wrong URL or secret) stops the
  consumer at once, without committing.
- `SeerRejected` (a permanent 4xx or `success: false`): the marks of the
  chunks Seer accepted are still written, the ledger claim is released and
  the message goes to the dead-letter topic (reason `seer_rejected`).
Replay is safe: Seer ignores a re-sent `(project_id, hash)` and the marks
are idempotent.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from arroyo.dlq import InvalidMessage
from arroyo.types import Message, Partition, Topic
from psycopg_pool import ConnectionPool

from consumers.db import ledger, marks
from consumers.db.lookup import SEER_MODEL_VERSION
from consumers.log_throttle import LogThrottle
from consumers.ops.metrics import RECORDS_SENT, time_stage
from consumers.pipeline.settings import PipelineSettings
from consumers.pipeline.types import (
    Action,
    BatchResult,
    HashedBatch,
    SeerRecord,
    merge_counts,
)
from consumers.seer.client import SeerClient
from consumers.seer.errors import SeerMisconfigured, SeerRejected, SeerUnavailable
from consumers.seer.types import GroupingRecord, GroupingRecordsResponse, SimilarIssue

logger = logging.getLogger(__name__)


class SeerOutage(RuntimeError):
    """Seer stayed unavailable for longer than the outage timeout."""


def chunked(records: Sequence[SeerRecord], size: int) -> list[Sequence[SeerRecord]]:
    return [records[i : i + size] for i in range(0, len(records), size)]


class SubmitToSeer:
    """The Seer stage's processing function.

    Outage retry warnings go through `outage_log`, one line per interval for
    the whole stage, because every in-flight chunk (up to
    `seer_concurrency`) retries during an outage. A warning that passes
    carries the ids of its own batch. Error lines are not throttled.
    """

    def __init__(
        self,
        client: SeerClient,
        pool: ConnectionPool,
        settings: PipelineSettings,
        stopping: threading.Event,
        *,
        outage_log: LogThrottle | None = None,
    ) -> None:
        self.client = client
        self.pool = pool
        self.settings = settings
        self.stopping = stopping
        self.outage_log = LogThrottle() if outage_log is None else outage_log
        self.executor = ThreadPoolExecutor(
            max_workers=settings.seer_concurrency, thread_name_prefix="seer-request"
        )

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    def __call__(self, message: Message[HashedBatch]) -> BatchResult:
        hashed = message.payload
        plan = hashed.plan
        filtered = merge_counts(plan.filtered, hashed.filtered)
        if plan.resumed is not None:
            accepted, saved_filtered = plan.resumed
            return BatchResult(plan=plan, accepted=accepted, filtered=saved_filtered)
        with time_stage("seer"):
            if plan.action is Action.DELETE:
                self._delete_project(hashed)
                return BatchResult(plan=plan, accepted=0, filtered=filtered)
            if plan.action is not Action.BACKFILL or not hashed.records:
                return BatchResult(plan=plan, accepted=0, filtered=filtered)
            return self._backfill(hashed, filtered)

    def _backfill(self, hashed: HashedBatch, filtered: dict[str, int]) -> BatchResult:
        plan = hashed.plan
        chunks = chunked(hashed.records, self.settings.seer_chunk_size)
        futures: list[Future[GroupingRecordsResponse]] = [
            self.executor.submit(self._post_until_available, hashed, chunk)
            for chunk in chunks
        ]

        accepted: list[SeerRecord] = []
        neighbours: dict[int, SimilarIssue] = {}
        rejection: SeerRejected | None = None
        for chunk, future in zip(chunks, futures, strict=True):
            try:
                response = future.result()
            except SeerRejected as e:
                rejection = e
                continue
            accepted.extend(chunk)
            RECORDS_SENT.inc(len(chunk))
            for group_id, neighbour in response.groups_with_neighbor.items():
                neighbours[group_id] = neighbour

        marked, orphaned = self._write_marks(
            hashed, accepted, neighbours, filtered, complete=rejection is None
        )
        if orphaned:
            filtered = merge_counts(filtered, {"neighbor_without_group": len(orphaned)})
            self._delete_orphaned_parents(hashed, orphaned)

        if rejection is not None:
            self._reject(hashed, rejection)
        return BatchResult(
            plan=plan,
            accepted=len(marked),
            filtered=filtered,
            marked_group_ids=tuple(marked),
        )

    def _post_until_available(
        self, hashed: HashedBatch, chunk: Sequence[SeerRecord]
    ) -> GroupingRecordsResponse:
        plan = hashed.plan
        assert plan.project is not None
        records = [
            GroupingRecord(
                group_id=r.group_id,
                hash=r.hash,
                project_id=plan.project.id,
                exception_type=r.exception_type,
                stacktrace=r.stacktrace,
            )
            for r in chunk
        ]
        deadline = time.monotonic() + self.settings.seer_outage_timeout_seconds
        delay = 1.0
        while True:
            try:
                return self.client.post_grouping_records(records)
            except SeerMisconfigured:
                # A wrong URL or secret does not heal by waiting: stop now,
                # uncommitted, with the client's error.
                raise
            except SeerUnavailable as e:
                if time.monotonic() + delay > deadline:
                    raise SeerOutage(
                        f"Seer unavailable for over "
                        f"{self.settings.seer_outage_timeout_seconds:.0f} s "
                        f"({plan.source.log_ids()}): {e}"
                    ) from e
                self.outage_log.log(
                    logger,
                    logging.WARNING,
                    "post_grouping_records",
                    "Seer unavailable, retrying %d records in %.1f s %s: %s",
                    len(records),
                    delay,
                    plan.source.log_ids(),
                    e,
                )
                if self.stopping.wait(delay * random.uniform(0.5, 1.0)):
                    raise SeerOutage("consumer is stopping during a Seer outage") from e
                delay = min(delay * 2, 30.0)

    def _write_marks(
        self,
        hashed: HashedBatch,
        accepted: Sequence[SeerRecord],
        neighbours: dict[int, SimilarIssue],
        filtered: dict[str, int],
        complete: bool,
    ) -> tuple[list[int], list[str]]:
        """Mark accepted groups; return the marked ids and orphaned parent hashes.

        A group whose neighbour's parent hash has no group in this project stays
        unmarked, so a later run retries it. When every chunk was accepted
        (`complete`), the batch's result is saved in the ledger in the same
        transaction as the marks.
        """
        assert hashed.plan.project is not None
        project_id = hashed.plan.project.id
        parents = sorted({n.parent_hash for n in neighbours.values()})
        with self.pool.connection() as conn:
            parent_groups = marks.groups_for_hashes(conn, project_id, parents)
            values: dict[int, dict[str, Any]] = {}
            orphaned: set[str] = set()
            for record in accepted:
                mark: dict[str, Any] = {
                    "similarity_model_version": SEER_MODEL_VERSION,
                    "request_hash": record.hash,
                }
                neighbour = neighbours.get(record.group_id)
                if neighbour is not None:
                    parent_group_id = parent_groups.get(neighbour.parent_hash)
                    if parent_group_id is None:
                        orphaned.add(neighbour.parent_hash)
                        continue
                    mark["results"] = [
                        {
                            "stacktrace_distance": neighbour.stacktrace_distance,
                            "should_group": neighbour.should_group,
                            "parent_group_id": parent_group_id,
                            "parent_hash": neighbour.parent_hash,
                        }
                    ]
                values[record.group_id] = mark
            marks.set_seer_marks(conn, project_id, values)
            if complete:
                final = dict(filtered)
                if orphaned:
                    final = merge_counts(
                        final, {"neighbor_without_group": len(orphaned)}
                    )
                ledger.save_result(conn, hashed.plan.source.batch, len(values), final)
            conn.commit()
        return list(values), sorted(orphaned)

    def _delete_orphaned_parents(self, hashed: HashedBatch, hashes: list[str]) -> None:
        plan = hashed.plan
        assert plan.project is not None
        logger.info(
            "deleting %d Seer records whose hash has no group %s",
            len(hashes),
            plan.source.log_ids(),
        )
        try:
            self.client.delete_records_by_hash(plan.project.id, hashes)
        except (SeerUnavailable, SeerRejected) as e:
            # The groups stay unmarked and are retried by a later run, which
            # deletes the orphans again.
            logger.error(
                "failed to delete orphaned Seer records %s: %s",
                plan.source.log_ids(),
                e,
            )

    def _reject(self, hashed: HashedBatch, error: SeerRejected) -> None:
        plan = hashed.plan
        logger.error("Seer rejected records %s: %s", plan.source.log_ids(), error)
        with self.pool.connection() as conn:
            ledger.release(conn, plan.source.batch, plan.source.source.owner)
            conn.commit()
        source = plan.source.source
        raise InvalidMessage(
            Partition(Topic(source.topic), source.partition),
            source.offset,
            reason=f"seer_rejected: {error}",
            log_exception=False,
        )

    def _delete_project(self, hashed: HashedBatch) -> None:
        plan = hashed.plan
        assert plan.project is not None
        project_id = plan.project.id
        deadline = time.monotonic() + self.settings.seer_outage_timeout_seconds
        while True:
            try:
                self.client.delete_project_records(project_id)
                break
            except SeerUnavailable as e:
                if time.monotonic() > deadline or self.stopping.wait(5.0):
                    raise SeerOutage(
                        f"Seer unavailable while deleting {plan.source.log_ids()}"
                    ) from e
        cleared = 0
        with self.pool.connection() as conn:
            while True:
                count = marks.clear_seer_marks(conn, project_id, 1000)
                conn.commit()
                cleared += count
                if count == 0:
                    break
        logger.info(
            "deleted Seer records and cleared %d group marks %s",
            cleared,
            plan.source.log_ids(),
        )
