"""Builds the strategy chain and owns the resources its stages share.

decode (RunTask) → lookup (ThreadedStage) → hashing (RunTaskWithMultiprocessing,
or RunTask with zero processes) → seer (ThreadedStage) → onward
(ThreadedStage) → CommitOffsets, with Arroyo's Healthcheck at the head
when a health-check file is configured.

The connection pool, the Seer client, the Kafka producer and the worker
processes outlive partition assignments: they are created once and closed
by `shutdown()`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from contextlib import ExitStack

from arroyo.backends.kafka import KafkaPayload, KafkaProducer
from arroyo.processing.strategies import (
    CommitOffsets,
    Healthcheck,
    ProcessingStrategy,
    ProcessingStrategyFactory,
    RunTask,
    RunTaskWithMultiprocessing,
)
from arroyo.processing.strategies.run_task_with_multiprocessing import (
    MultiprocessingPool,
)
from arroyo.types import Commit, FilteredPayload, Partition

from consumers.db.pool import open_pool
from consumers.ops.metrics import REBALANCES, SEER_REQUEST_ERRORS, observe_seer_request
from consumers.pipeline import hashing
from consumers.pipeline.activity import Activity, CountEntering, CountFinished
from consumers.pipeline.decode import decode
from consumers.pipeline.lookup import Lookup
from consumers.pipeline.onward import Onward
from consumers.pipeline.seer import SubmitToSeer
from consumers.pipeline.settings import PipelineSettings
from consumers.pipeline.threaded import ThreadedStage
from consumers.pipeline.types import BatchPlan, BatchResult, DecodedBatch, HashedBatch
from consumers.pipeline.worker_pool import WorkerPool
from consumers.seer.client import SeerClient, SeerClientConfig
from consumers.seer.observer import RequestSample
from consumers.seer.retry import RetryPolicy

logger = logging.getLogger(__name__)


class SeerRequestMetrics:
    """Records every Seer HTTP attempt in the Prometheus metrics."""

    def record_request(self, sample: RequestSample) -> None:
        observe_seer_request(
            sample.endpoint, sample.status_code, sample.latency_seconds
        )
        if sample.outcome != "success":
            SEER_REQUEST_ERRORS.labels(
                endpoint=sample.endpoint, kind=sample.outcome
            ).inc()


def build_seer_client(settings: PipelineSettings) -> SeerClient:
    config = SeerClientConfig(
        base_url=settings.seer_url,
        secret=settings.seer_secret,
        timeout_seconds=settings.seer_timeout_seconds,
        retry=RetryPolicy(max_attempts=settings.seer_max_retries + 1),
        max_concurrency=settings.seer_concurrency,
        max_requests_per_second=settings.seer_max_requests_per_second or None,
    )
    return SeerClient(config, observer=SeerRequestMetrics())


# Tables the stages read or write. A database without them was not migrated.
CONSUMER_TABLES = (
    "projects",
    "groups",
    "group_hashes",
    "events",
    "nodestore",
    "backfill_options",
    "backfill_ledger",
)


class BackfillStrategyFactory(ProcessingStrategyFactory[KafkaPayload]):
    def __init__(
        self,
        settings: PipelineSettings,
        producer: KafkaProducer,
        activity: Activity,
        healthcheck_file: str | None = None,
    ) -> None:
        self.settings = settings
        self.activity = activity
        self.healthcheck_file = healthcheck_file
        self.stopping = threading.Event()
        hashing.configure(settings.rules_path)
        # Parse the rules before opening anything, so that an invalid file
        # stops the consumer at start instead of filtering every group.
        hashing.load_rules()
        connections = (
            settings.lookup_threads + settings.seer_threads + settings.onward_threads
        )
        # A failing step closes what the steps before it opened.
        with ExitStack() as opened:
            self.pool = open_pool(
                settings.database_url,
                max_size=connections,
                name="backfill",
                required_tables=CONSUMER_TABLES,
            )
            opened.callback(self.pool.close)
            self.client = build_seer_client(settings)
            opened.callback(self.client.close)
            self.lookup = Lookup(self.pool, producer, settings, self.stopping)
            self.seer = SubmitToSeer(self.client, self.pool, settings, self.stopping)
            opened.callback(self.seer.close)
            self.onward = Onward(producer, self.pool, settings, self.stopping)
            self.processes: MultiprocessingPool | None = None
            if settings.processes > 0:
                self.processes = WorkerPool(
                    settings.processes,
                    settings.rules_path,
                    settings.malloc_trim_interval_seconds,
                )
            opened.pop_all()

    def create_with_partitions(
        self, commit: Commit, partitions: Mapping[Partition, int]
    ) -> ProcessingStrategy[KafkaPayload]:
        settings = self.settings
        self.activity.assign()
        REBALANCES.inc()
        logger.info(
            "building strategy chain for partitions %s",
            sorted(p.index for p in partitions),
        )
        commit_step: ProcessingStrategy[FilteredPayload | BatchResult] = CountFinished(
            self.activity, CommitOffsets(commit)
        )
        onward: ProcessingStrategy[FilteredPayload | BatchResult] = ThreadedStage(
            self.onward,
            threads=settings.onward_threads,
            max_pending=settings.max_pending_batches,
            next_step=commit_step,
            name="onward",
        )
        seer: ProcessingStrategy[FilteredPayload | HashedBatch] = ThreadedStage(
            self.seer,
            threads=settings.seer_threads,
            max_pending=settings.max_pending_batches,
            next_step=onward,
            name="seer",
        )
        hashing_step: ProcessingStrategy[FilteredPayload | BatchPlan]
        if self.processes is not None:
            hashing_step = RunTaskWithMultiprocessing(
                hashing.hash_batch,
                next_step=seer,
                max_batch_size=settings.max_hashing_batch_size,
                max_batch_time=settings.max_hashing_batch_time_seconds,
                pool=self.processes,
            )
        else:
            hashing_step = RunTask(hashing.hash_batch, seer)
        lookup: ProcessingStrategy[FilteredPayload | DecodedBatch] = ThreadedStage(
            self.lookup,
            threads=settings.lookup_threads,
            max_pending=settings.max_pending_batches,
            next_step=hashing_step,
            name="lookup",
        )
        head: ProcessingStrategy[FilteredPayload | KafkaPayload] = CountEntering(
            self.activity, RunTask(decode, lookup)
        )
        if self.healthcheck_file:
            head = Healthcheck(self.healthcheck_file, head)
        return head

    def shutdown(self) -> None:
        """Close the shared resources; safe to call more than once."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        self.seer.close()
        self.client.close()
        if self.processes is not None:
            self.processes.close()
        self.pool.close()
        logger.info("strategy factory resources closed")
