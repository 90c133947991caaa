"""Stage 2, lookup: `DecodedBatch` → `BatchPlan`.

Runs in a thread pool (`ThreadedStage`) on pooled PostgreSQL connections.
Claims the batch in the ledger first, so a copy of a batch that is done or
in progress elsewhere becomes `Action.DUPLICATE` and has no side effect.
Then it resolves the project (or the worker's next cohort), applies the kill
switch and skip rules, reads the next batch of groups by keyset cursor (id
descending, `id < cursor`, and `id >= min_group_id` in a split chain) with
each group's skip reason, the latest event of each eligible group, and the
payloads from the node store: one query per step.

The stage also produces the chain's next batch as soon as its cursor is
known, and waits for the broker's acknowledgement. The next batch is then
looked up while this one is hashed and sent to Seer, so a large project is
pipelined instead of waiting for each batch in turn. This is safe under
replay: a retry of this batch produces the next batch again, and that copy
finds its batch key claimed or done in the ledger and does nothing.

Raises `psycopg.Error` on database failures and `KafkaException` when the
next batch cannot be delivered, which stops the consumer without
committing; the same message then claims the batch again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
from typing import Any

import psycopg
from arroyo.backends.kafka import KafkaPayload, KafkaProducer
from arroyo.types import Message, Topic
from psycopg_pool import ConnectionPool

from consumers.db import ledger
from consumers.db import lookup as queries
from consumers.messages import encode_project_batch
from consumers.ops.metrics import time_stage
from consumers.pipeline.cohorts import next_project_batch
from consumers.pipeline.delivery import wait_for_delivery
from consumers.pipeline.settings import PipelineSettings
from consumers.pipeline.types import (
    Action,
    BatchPlan,
    DecodedBatch,
    GroupEvent,
    Project,
)

logger = logging.getLogger(__name__)


def node_id(project_id: int, event_id: str) -> str:
    """Node-store key of an event: md5 hex of "{project_id}:{event_id}"."""
    return hashlib.md5(f"{project_id}:{event_id}".encode()).hexdigest()


class Lookup:
    """The lookup stage's processing function, bound to a pool and settings."""

    def __init__(
        self,
        pool: ConnectionPool,
        producer: KafkaProducer,
        settings: PipelineSettings,
        stopping: threading.Event,
    ) -> None:
        self.pool = pool
        self.producer = producer
        self.settings = settings
        self.stopping = stopping
        self.batches_topic = Topic(settings.input_topic)

    def __call__(self, message: Message[DecodedBatch]) -> BatchPlan:
        decoded = message.payload
        with self.pool.connection() as conn, time_stage("lookup"):
            self._wait_for_killswitch(conn, decoded)
            claim = ledger.claim(
                conn,
                decoded.batch,
                decoded.source.owner,
                self.settings.claim_ttl_seconds,
            )
            conn.commit()
            if claim is not ledger.Claim.ACQUIRED:
                logger.info(
                    "skipping duplicate batch (%s elsewhere) %s",
                    claim.value,
                    decoded.log_ids(),
                )
                return BatchPlan(decoded, Action.DUPLICATE, note=claim.value)
            with conn.transaction():
                plan = self._plan(conn, decoded)
                if plan.action is Action.BACKFILL:
                    plan = self._resume(conn, plan)
        return self._produce_next_batch(plan)

    def _resume(self, conn: psycopg.Connection[Any], plan: BatchPlan) -> BatchPlan:
        saved = ledger.saved_result(conn, plan.source.batch)
        if saved is None:
            return plan
        logger.info(
            "resuming batch with the Seer result of an earlier attempt %s",
            plan.source.log_ids(),
        )
        return dataclasses.replace(plan, events=(), filtered={}, resumed=saved)

    def _produce_next_batch(self, plan: BatchPlan) -> BatchPlan:
        following = plan.next_batch
        if following is None:
            return plan
        payload = KafkaPayload(following.key(), encode_project_batch(following), [])
        future = self.producer.produce(self.batches_topic, payload)
        delivered = wait_for_delivery(
            future,
            self.settings.produce_timeout_seconds,
            self.stopping,
            plan.source.log_ids(),
        )
        position = (delivered.partition.index, delivered.offset)
        return dataclasses.replace(plan, next_batch_position=position)

    def _wait_for_killswitch(
        self, conn: psycopg.Connection[Any], decoded: DecodedBatch
    ) -> None:
        # The kill switch pauses the chain where it is instead of ending it,
        # so no project is left half done.
        warned = False
        while queries.killswitch_enabled(conn):
            conn.commit()
            if not warned:
                logger.warning("kill switch is on; pausing %s", decoded.log_ids())
                warned = True
            if self.stopping.wait(self.settings.killswitch_poll_seconds):
                raise RuntimeError("consumer is stopping while the kill switch is on")
        conn.commit()
        if warned:
            logger.info("kill switch is off; resuming %s", decoded.log_ids())

    def _plan(self, conn: psycopg.Connection[Any], decoded: DecodedBatch) -> BatchPlan:
        batch = decoded.batch
        if batch.project_id is None:
            return self._plan_worker_cohort(conn, decoded)

        found = queries.fetch_project(conn, batch.project_id)
        if found is None:
            logger.warning("project not found; skipping it %s", decoded.log_ids())
            return self._skip_project(decoded, "project_not_found")
        project, options = found
        if batch.project_id in batch.skip_project_ids:
            return self._skip_project(decoded, "project_skipped")
        if batch.only_delete:
            return BatchPlan(
                decoded,
                Action.DELETE,
                project=project,
                next_batch=next_project_batch(batch),
            )
        if batch.skip_processed_projects and queries.COMPLETED_OPTION in options:
            return self._skip_project(decoded, "project_already_completed")
        return self._plan_backfill(conn, decoded, project)

    def _skip_project(self, decoded: DecodedBatch, note: str) -> BatchPlan:
        return BatchPlan(
            decoded,
            Action.FORWARD,
            next_batch=next_project_batch(decoded.batch),
            note=note,
        )

    def _plan_worker_cohort(
        self, conn: psycopg.Connection[Any], decoded: DecodedBatch
    ) -> BatchPlan:
        batch = decoded.batch
        assert batch.worker_number is not None and batch.total_workers is not None
        cohort = queries.fetch_worker_cohort(
            conn,
            batch.worker_number,
            batch.total_workers,
            batch.last_project_id,
            self.settings.cohort_size,
        )
        if not cohort:
            logger.info("worker has no projects left %s", decoded.log_ids())
            return BatchPlan(decoded, Action.FORWARD, note="worker_done")
        first = batch.replace(
            project_id=cohort[0], cohort=tuple(cohort), cohort_index=0, cursor=None
        )
        return BatchPlan(decoded, Action.FORWARD, next_batch=first, note="cohort")

    def _plan_backfill(
        self,
        conn: psycopg.Connection[Any],
        decoded: DecodedBatch,
        project: Project,
    ) -> BatchPlan:
        batch = decoded.batch
        size = self.settings.batch_size
        groups = queries.fetch_group_batch(
            conn,
            project.id,
            batch.cursor,
            size,
            self.settings.max_age_days,
            floor=batch.min_group_id,
        )
        exhausted = len(groups) < size
        if exhausted:
            next_batch = next_project_batch(batch)
        else:
            next_batch = batch.replace(cursor=groups[-1].id, attempt=0)

        filtered: dict[str, int] = {}
        for group in groups:
            if group.skip_reason is not None:
                filtered[group.skip_reason] = filtered.get(group.skip_reason, 0) + 1
        eligible = [g for g in groups if g.skip_reason is None]

        latest = queries.fetch_latest_events(
            conn, project.id, eligible, self.settings.event_window_seconds
        )
        if len(latest) < len(eligible):
            filtered["no_event"] = len(eligible) - len(latest)
        nodes = {group_id: node_id(project.id, ev) for group_id, ev in latest.items()}
        payloads = queries.fetch_payloads(conn, list(nodes.values()))

        events: list[GroupEvent] = []
        missing = 0
        for group_id, event_id in latest.items():
            payload = payloads.get(nodes[group_id])
            if payload is None:
                missing += 1
                logger.warning(
                    "event payload missing from the node store: group=%d event=%s %s",
                    group_id,
                    event_id,
                    decoded.log_ids(),
                )
                continue
            events.append(GroupEvent(group_id, event_id, payload))
        if missing:
            filtered["no_payload"] = missing

        return BatchPlan(
            decoded,
            Action.BACKFILL,
            project=project,
            events=tuple(events),
            filtered=filtered,
            next_batch=next_batch,
            chain_ended=exhausted and batch.is_split,
            complete_project=exhausted and batch.enable_ingestion,
        )
