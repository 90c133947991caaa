"""Stage 5, onward: `BatchResult` → `BatchResult`, then the offset commit.

Runs in a thread pool (`ThreadedStage`). Produces the batch's billing
outcomes, waits until the broker acknowledges every one, sets the project's
completed option when asked (for a project split into several chains, when
the last of them ends), and marks the batch done in the ledger with a
record of what it produced. (The lookup stage already produced the next
batch.) Only then does the message move on to `CommitOffsets`, so a
committed offset implies durable side effects.

A crash between the acknowledgement and the ledger update re-produces the
same outcomes when the batch is retried. They carry a deduplication key,
because their content and key depend only on the batch.
Raises on a failed or timed-out delivery, which stops the consumer without
committing.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from arroyo.backends.abstract import ProducerFuture
from arroyo.backends.kafka import KafkaPayload, KafkaProducer
from arroyo.types import BrokerValue, Message, Topic
from psycopg_pool import ConnectionPool

from consumers.db import ledger, marks
from consumers.ops.metrics import BATCHES_PROCESSED, GROUPS_FILTERED, time_stage
from consumers.pipeline.delivery import wait_for_deliveries
from consumers.pipeline.outcomes import build_outcomes
from consumers.pipeline.settings import PipelineSettings
from consumers.pipeline.types import Action, BatchResult

logger = logging.getLogger(__name__)


class Onward:
    """The onward stage's processing function."""

    def __init__(
        self,
        producer: KafkaProducer,
        pool: ConnectionPool,
        settings: PipelineSettings,
        stopping: threading.Event,
    ) -> None:
        self.producer = producer
        self.pool = pool
        self.settings = settings
        self.stopping = stopping
        self.outcomes_topic = Topic(settings.outcomes_topic)

    def __call__(self, message: Message[BatchResult]) -> BatchResult:
        result = message.payload
        if result.plan.action is Action.DUPLICATE:
            BATCHES_PROCESSED.labels(result="duplicate").inc()
            return result
        with time_stage("onward"):
            self._deliver(result)
        BATCHES_PROCESSED.labels(result=result.plan.action.value).inc()
        for reason, count in result.filtered.items():
            GROUPS_FILTERED.labels(reason=reason).inc(count)
        return result

    def _deliver(self, result: BatchResult) -> None:
        plan = result.plan
        decoded = plan.source
        batch = decoded.batch

        pending: list[ProducerFuture[BrokerValue[KafkaPayload]]] = []
        outcome_count = 0
        if plan.project is not None:
            for outcome in build_outcomes(
                batch_key=batch.batch_key,
                timestamp=decoded.source.timestamp,
                org_id=plan.project.organization_id,
                project_id=plan.project.id,
                accepted=result.accepted,
                filtered=result.filtered,
            ):
                future = self.producer.produce(
                    self.outcomes_topic, KafkaPayload(outcome.key, outcome.value, [])
                )
                pending.append(future)
                outcome_count += 1

        outputs: dict[str, Any] = {
            "action": plan.action.value,
            "note": plan.note,
            "accepted": result.accepted,
            "filtered": dict(result.filtered),
            "outcomes": outcome_count,
        }
        if plan.chain_ended:
            outputs["chain_end"] = {"chains": batch.chains, "floor": batch.min_group_id}
        if plan.next_batch is not None and plan.next_batch_position is not None:
            partition, offset = plan.next_batch_position
            outputs["next_batch"] = {
                "batch_key": plan.next_batch.batch_key,
                "partition": partition,
                "offset": offset,
            }
        wait_for_deliveries(
            pending,
            self.settings.produce_timeout_seconds,
            self.stopping,
            decoded.log_ids(),
            produced="the batch's outcomes",
        )

        project = plan.project if plan.complete_project else None
        ends_split_chain = project is not None and plan.chain_ended
        with self.pool.connection() as conn:
            if ends_split_chain:
                # Serialises the last batches of a project's chains, so that
                # the last of them to commit counts every chain as ended.
                ledger.lock_project(conn, batch)
            ledger.complete(conn, batch, outputs)
            if project is not None and (
                not ends_split_chain or ledger.ended_chains(conn, batch) >= batch.chains
            ):
                marks.set_backfill_completed(conn, project.id, int(time.time()))
            conn.commit()
        logger.debug("batch done %s: %s", decoded.log_ids(), outputs)
