"""Fixtures for end-to-end runs of the consumer as a separate process."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from consumers.ingest.loader import IngestOptions, ingest_events
from consumers.kafka.read import read_until_idle
from consumers.messages import ProjectBatch, encode_project_batch
from consumers.samples.generate import generate_events
from consumers.seer.service.server import SeerService

SEER_BACKFILL = str(Path(sys.executable).parent / "seer-backfill")
# Client settings the tansu test broker needs (slow joins with the default
# session timeout, and a fetch back-off that throttles Arroyo).
TANSU_OPTIONS = (
    "-O",
    "consumer:session.timeout.ms=6000",
    "-O",
    "consumer:fetch.queue.backoff.ms=10",
)
PARTITIONS = 2


def seer_backfill(
    *args: str, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run the `seer-backfill` command line and capture its output."""
    return subprocess.run(
        [SEER_BACKFILL, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def last_stderr_line(result: subprocess.CompletedProcess[str]) -> str:
    """Return the last line a command wrote to stderr, where click puts `Error:`."""
    return result.stderr.strip().splitlines()[-1]


@dataclass
class Topics:
    """Topic names of one test, so tests on the shared broker never mix."""

    input: str
    dlq: str
    outcomes: str
    group: str
    produced: dict[int, list[int]] = field(default_factory=dict)


def create_test_topics(bootstrap_servers: str) -> Topics:
    """Create an input, a dead-letter and an outcomes topic of unique names."""
    suffix = uuid.uuid4().hex[:8]
    names = Topics(
        input=f"backfill-project-batches-{suffix}",
        dlq=f"backfill-project-batches-dlq-{suffix}",
        outcomes=f"outcomes-{suffix}",
        group=f"seer-backfill-{suffix}",
    )
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    futures = admin.create_topics(
        [
            NewTopic(name, num_partitions=PARTITIONS, replication_factor=1)
            for name in (names.input, names.dlq, names.outcomes)
        ]
    )
    for future in futures.values():
        future.result(timeout=30)
    return names


@pytest.fixture
def topics(bootstrap_servers: str) -> Topics:
    return create_test_topics(bootstrap_servers)


@pytest.fixture
def seer_service(clean_database: str) -> Iterator[SeerService]:
    service = SeerService(clean_database, port=0)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def produce(
    bootstrap_servers: str,
    topics: Topics,
    messages: list[tuple[bytes, bytes]],
    headers: list[tuple[str, str | bytes | None]] | None = None,
) -> None:
    """Produce (key, value) pairs one record per batch; record their offsets."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap_servers,
            "batch.num.messages": 1,
            "partitioner": "murmur2_random",
        }
    )
    delivered: list[Message] = []

    def on_delivery(error: KafkaError | None, message: Message) -> None:
        assert error is None, error
        delivered.append(message)

    for key, value in messages:
        producer.produce(
            topics.input, value=value, key=key, headers=headers, on_delivery=on_delivery
        )
        producer.flush(30)
    assert len(delivered) == len(messages)
    for message in delivered:
        partition, offset = message.partition(), message.offset()
        assert partition is not None and offset is not None
        topics.produced.setdefault(partition, []).append(offset)


def schedule_batches(
    bootstrap_servers: str, topics: Topics, batches: list[ProjectBatch]
) -> None:
    produce(
        bootstrap_servers, topics, [(b.key(), encode_project_batch(b)) for b in batches]
    )


def run_command(
    bootstrap_servers: str,
    topics: Topics,
    database_url: str,
    seer_url: str,
    *extra: str,
) -> list[str]:
    """Return the `seer-backfill run` command line of a test on `topics`."""
    return [
        SEER_BACKFILL,
        "run",
        "--bootstrap-servers",
        bootstrap_servers,
        "--consumer-group",
        topics.group,
        "--topic",
        topics.input,
        "--dlq-topic",
        topics.dlq,
        "--outcomes-topic",
        topics.outcomes,
        "--database-url",
        database_url,
        "--seer-url",
        seer_url,
        *TANSU_OPTIONS,
        *extra,
    ]


def run_consumer(
    bootstrap_servers: str,
    topics: Topics,
    database_url: str,
    seer_url: str,
    *extra: str,
    timeout: float = 180.0,
) -> subprocess.CompletedProcess[str]:
    command = run_command(
        bootstrap_servers,
        topics,
        database_url,
        seer_url,
        "--exit-after-idle-seconds",
        "3",
        "--join-timeout",
        "5",
        *extra,
    )
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, result.stderr[-5000:]
    print(result.stderr[-20000:])
    return result


def reset_to_earliest(bootstrap_servers: str, topics: Topics) -> None:
    """Move the consumer group back to the start of the input topic."""
    reset = seer_backfill(
        "offsets",
        "reset",
        "--bootstrap-servers",
        bootstrap_servers,
        "--group",
        topics.group,
        "--topic",
        topics.input,
        "--to-earliest",
        "--execute",
        timeout=120,
    )
    assert reset.returncode == 0, reset.stdout + reset.stderr


def read_topic(
    bootstrap_servers: str, topic: str, idle_seconds: float = 2.0
) -> list[Message]:
    return read_until_idle(bootstrap_servers, topic, idle_seconds=idle_seconds)


def committed_offsets(bootstrap_servers: str, topics: Topics) -> dict[int, int]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap_servers, "group.id": topics.group}
    )
    try:
        committed = consumer.committed(
            [TopicPartition(topics.input, p) for p in range(PARTITIONS)], timeout=10
        )
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in committed if tp.offset >= 0}


def onward_offsets(database_url: str, run_id: str) -> dict[int, list[int]]:
    """Offsets of the next-batch messages the consumer produced, from the ledger."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT outputs -> 'next_batch' FROM backfill_ledger "
            "WHERE run_id = %s AND outputs ? 'next_batch'",
            (run_id,),
        ).fetchall()
    offsets: dict[int, list[int]] = {}
    for (entry,) in rows:
        offsets.setdefault(entry["partition"], []).append(entry["offset"])
    return offsets


def load_sdk_events(
    database_url: str, project_ids: list[int], count: int, seed: int
) -> None:
    """Ingest SDK-generated events, spread round-robin over the projects."""
    events = list(generate_events(count, seed=seed))
    with psycopg.connect(database_url) as conn:
        for index, project_id in enumerate(project_ids):
            share = events[index :: len(project_ids)]
            report = ingest_events(
                share, project_id, conn, IngestOptions(organization_id=7)
            )
            assert report.ok, report.invalid


def outcome_bodies(records: list[Message]) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    for record in records:
        value = record.value()
        assert value is not None
        bodies.append(json.loads(value))
    return bodies
