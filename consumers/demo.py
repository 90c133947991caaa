"""The end-to-end demo: every service embedded, real events, one summary.

`run_demo` starts what is not given (a tansu broker, an embedded PostgreSQL,
the Seer-compatible service), generates events with the real sentry-sdk,
ingests them into several projects, schedules every project, adds one
malformed message to show the dead-letter path, runs the consumer until the
topic is drained, and returns a `DemoSummary`.
"""

from __future__ import annotations

import gc
import logging
import tempfile
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import psycopg
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from consumers.cli import options as opt
from consumers.db.migrate import migrate
from consumers.embedded.broker import EmbeddedBroker
from consumers.embedded.postgres import EmbeddedPostgres
from consumers.ingest.loader import IngestOptions, ingest_events
from consumers.kafka.admin import committed_offsets, topic_partitions
from consumers.kafka.config import KafkaOptions, admin_config, producer_config
from consumers.kafka.read import end_offsets, read_until_idle
from consumers.kafka.topics import (
    create_topics,
    default_topics_dir,
    load_topic_definitions,
)
from consumers.ops.schedule import RunOptions, plan_schedule, publish
from consumers.pipeline.runner import ConsumerOptions, run_consumer
from consumers.pipeline.settings import PipelineSettings
from consumers.samples.generate import generate_events
from consumers.seer.service.faults import FaultConfig
from consumers.seer.service.server import SeerService

logger = logging.getLogger(__name__)

# The tansu broker needs short group sessions and a short fetch back-off.
# tansu also closes idle connections, which librdkafka would log each time.
TANSU_OPTIONS = KafkaOptions.parse(
    [
        "consumer:session.timeout.ms=6000",
        "consumer:fetch.queue.backoff.ms=10",
        "log.connection.close=false",
    ]
)


@dataclass(frozen=True)
class DemoConfig:
    events: int = 600
    projects: int = 4
    partitions: int = 4
    seed: int = 1
    seer_latency_ms: float = 20.0
    processes: int = 0
    batch_size: int = 20
    bootstrap_servers: str | None = None
    database_url: str | None = None
    seer_url: str | None = None
    workdir: Path | None = None


@dataclass
class DemoSummary:
    run_id: str
    projects: int = 0
    events_loaded: int = 0
    groups: int = 0
    groups_sent: int = 0
    filtered: Counter[str] = field(default_factory=Counter)
    outcomes: int = 0
    dlq_messages: int = 0
    batches: int = 0
    committed: dict[int, int] = field(default_factory=dict)
    end_offsets: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    def lag(self) -> dict[int, int]:
        return {
            p: end - self.committed.get(p, 0) for p, end in self.end_offsets.items()
        }

    def format(self) -> str:
        lines = [
            f"run id:              {self.run_id}",
            f"projects:            {self.projects}",
            f"events ingested:     {self.events_loaded}",
            f"groups:              {self.groups}",
            f"batches processed:   {self.batches}",
            f"groups sent to Seer: {self.groups_sent}",
            "groups filtered:     "
            + (
                ", ".join(f"{r}={n}" for r, n in sorted(self.filtered.items()))
                or "none"
            ),
            f"outcomes produced:   {self.outcomes}",
            f"DLQ messages:        {self.dlq_messages}",
            "partition  committed  end  lag",
        ]
        lag = self.lag()
        for partition in sorted(self.end_offsets):
            lines.append(
                f"{partition:>9}  {self.committed.get(partition, 0):>9}  "
                f"{self.end_offsets[partition]:>3}  {lag[partition]:>3}"
            )
        lines.append(f"consumer time:       {self.seconds:.1f} s")
        return "\n".join(lines)


def _ingest(database_url: str, config: DemoConfig, summary: DemoSummary) -> list[int]:
    project_ids = [100 + index for index in range(config.projects)]
    logger.info("generating %d events with the sentry-sdk", config.events)
    events = list(generate_events(config.events, seed=config.seed))
    with psycopg.connect(database_url) as conn:
        for index, project_id in enumerate(project_ids):
            # Uneven project sizes: the first project gets the most events.
            share = events[index :: len(project_ids)]
            report = ingest_events(
                share,
                project_id,
                conn,
                IngestOptions(organization_id=1, slug=f"demo-{project_id}"),
            )
            summary.events_loaded += report.events_loaded
        row = conn.execute("SELECT count(*) FROM groups").fetchone()
        summary.groups = int(row[0]) if row else 0
    summary.projects = len(project_ids)
    return project_ids


def _produce_malformed(bootstrap_servers: str, topic: str) -> None:
    producer = Producer(producer_config(bootstrap_servers))
    producer.produce(
        topic, key=b"demo-malformed", value=msgpack.packb({"v": 99, "run_id": "x"})
    )
    producer.flush(30)


def _collect(summary: DemoSummary, database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT outputs FROM backfill_ledger WHERE run_id = %s AND state = 'done'",
            (summary.run_id,),
        ).fetchall()
    for (outputs,) in rows:
        outputs_map: dict[str, Any] = outputs
        summary.batches += 1
        summary.groups_sent += int(outputs_map.get("accepted", 0))
        summary.filtered.update(outputs_map.get("filtered", {}))
        summary.outcomes += int(outputs_map.get("outcomes", 0))


def run_demo(config: DemoConfig) -> DemoSummary:
    summary = DemoSummary(run_id=str(uuid.uuid4()))
    with ExitStack() as stack:
        workdir = config.workdir or Path(
            stack.enter_context(
                tempfile.TemporaryDirectory(prefix="seer-backfill-demo-")
            )
        )
        bootstrap = config.bootstrap_servers
        kafka_options = KafkaOptions()
        if bootstrap is None:
            bootstrap = stack.enter_context(EmbeddedBroker()).bootstrap_servers
            kafka_options = TANSU_OPTIONS
        database_url = config.database_url
        if database_url is None:
            database_url = stack.enter_context(EmbeddedPostgres(workdir)).url
        migrate(database_url)

        admin = AdminClient(admin_config(bootstrap, kafka_options))
        create_topics(
            admin, load_topic_definitions(default_topics_dir()), config.partitions, 1
        )

        seer_url = config.seer_url
        if seer_url is None:
            service = SeerService(
                database_url, faults=FaultConfig(latency_ms=config.seer_latency_ms)
            )
            service.start()
            stack.callback(service.stop)
            seer_url = service.url

        project_ids = _ingest(database_url, config, summary)
        plan = plan_schedule(
            database_url, RunOptions(run_id=summary.run_id), project_ids=project_ids
        )
        delivery = publish(plan.batches, bootstrap, opt.INPUT_TOPIC, kafka_options)
        if not delivery.ok:
            raise RuntimeError(f"scheduling failed: {delivery.failed}")
        _produce_malformed(bootstrap, opt.INPUT_TOPIC)

        group = f"seer-backfill-demo-{summary.run_id[:8]}"
        started = time.monotonic()
        activity = run_consumer(
            PipelineSettings(
                database_url=database_url,
                seer_url=seer_url,
                batch_size=config.batch_size,
                processes=config.processes,
            ),
            ConsumerOptions(
                bootstrap_servers=bootstrap,
                group_id=group,
                join_timeout_seconds=10.0,
                exit_after_idle_seconds=3.0,
                kafka_options=kafka_options,
            ),
        )
        summary.seconds = time.monotonic() - started
        # The consumer's Kafka clients sit in reference cycles; collect them
        # now so they do not log connection failures once the broker stops.
        gc.collect()
        summary.dlq_messages = activity.dead_lettered
        _collect(summary, database_url)
        records = read_until_idle(bootstrap, opt.INPUT_TOPIC, options=kafka_options)
        summary.end_offsets = {
            p: 0 for p in topic_partitions(admin, opt.INPUT_TOPIC)
        } | end_offsets(records)
        committed = committed_offsets(
            admin, group, opt.INPUT_TOPIC, summary.end_offsets.keys()
        )
        summary.committed = {p: o for p, o in committed.items() if o is not None}
        # Dropped before the broker stops, so it does not log the shutdown.
        admin.poll(0)
        del admin
    return summary
