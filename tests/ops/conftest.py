"""Helpers for the operations tests: fresh topics, exact producing, reading back.

Every test gets topics of its own on the session's tansu broker. Producers
flush after each message, so every record is its own batch and tansu's high
watermark (base offset of the last batch + 1) is exact.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

# librdkafka settings that tansu needs: group joins take half the session
# timeout, and Arroyo-style fetching needs a short back-off.
TANSU_OPTIONS = (
    "-O",
    "consumer:session.timeout.ms=6000",
    "-O",
    "consumer:fetch.queue.backoff.ms=10",
)
CONSUMER_SETTINGS = {"session.timeout.ms": 6000, "fetch.queue.backoff.ms": 10}


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    timestamp_ms: int


def header_map(
    raw: dict[str, str | bytes | None] | list[tuple[str, str | bytes | None]] | None,
) -> dict[str, bytes]:
    pairs = list(raw.items()) if isinstance(raw, dict) else (raw or [])
    return {k: v if isinstance(v, bytes) else b"" for k, v in pairs}


@pytest.fixture
def tansu_options() -> tuple[str, ...]:
    return TANSU_OPTIONS


@pytest.fixture
def make_topic(bootstrap_servers: str) -> Callable[..., str]:
    """Create a topic with a unique name; returns the name."""

    def create(prefix: str = "ops", partitions: int = 1) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        admin = AdminClient({"bootstrap.servers": bootstrap_servers})
        futures = admin.create_topics([NewTopic(name, partitions, 1)])
        futures[name].result(timeout=10)
        return name

    return create


@pytest.fixture
def produce(bootstrap_servers: str) -> Iterator[Callable[..., int]]:
    """Produce one message, flushed on its own; returns its offset."""
    producer = Producer({"bootstrap.servers": bootstrap_servers, "linger.ms": 0})

    def send(
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        partition: int = 0,
        headers: Sequence[tuple[str, bytes]] = (),
        timestamp_ms: int = 0,
    ) -> int:
        offsets: list[int] = []
        errors: list[KafkaError] = []

        def on_delivery(error: KafkaError | None, message: object) -> None:
            if error is not None:
                errors.append(error)
            else:
                offsets.append(message.offset())  # type: ignore[attr-defined]

        producer.produce(
            topic,
            value=value,
            key=key,
            partition=partition,
            headers=list(headers),
            timestamp=timestamp_ms,
            on_delivery=on_delivery,
        )
        producer.flush(10)
        assert not errors, errors
        return offsets[0]

    yield send
    producer.flush(10)


@pytest.fixture
def read_topic(bootstrap_servers: str) -> Callable[[str], list[Record]]:
    """Every record of every partition of a topic, in partition and offset order."""

    def read(topic: str) -> list[Record]:
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap_servers,
                "group.id": f"reader-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            }
        )
        try:
            metadata = consumer.list_topics(topic, timeout=10)
            partitions = sorted(metadata.topics[topic].partitions)
            ends = {}
            for p in partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, p), timeout=10, cached=False
                )
                if high > low:
                    ends[p] = high
            if not ends:
                return []
            consumer.assign([TopicPartition(topic, p, 0) for p in ends])
            records: list[Record] = []
            remaining = set(ends)
            deadline = time.monotonic() + 20
            while remaining and time.monotonic() < deadline:
                message = consumer.poll(0.5)
                if message is None:
                    continue
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        remaining.discard(message.partition() or 0)
                    continue
                records.append(
                    Record(
                        partition=message.partition() or 0,
                        offset=message.offset() or 0,
                        key=message.key(),
                        value=message.value() or b"",
                        headers=header_map(message.headers()),
                        timestamp_ms=message.timestamp()[1],
                    )
                )
            assert not remaining, f"partitions {remaining} not read to their end"
            return sorted(records, key=lambda r: (r.partition, r.offset))
        finally:
            consumer.close()

    return read


def commit_group_offsets(
    bootstrap_servers: str, group: str, topic: str, offsets: dict[int, int]
) -> None:
    """Commit partition -> offset for `group` on `topic` without joining it."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": group,
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.commit(
            offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()],
            asynchronous=False,
        )
    finally:
        consumer.close()


@pytest.fixture
def commit_offsets(
    bootstrap_servers: str,
) -> Callable[[str, str, dict[int, int]], None]:
    """Commit offsets for a group on the session's broker without joining it."""

    def commit(group: str, topic: str, offsets: dict[int, int]) -> None:
        commit_group_offsets(bootstrap_servers, group, topic, offsets)

    return commit


@pytest.fixture
def group_member(bootstrap_servers: str) -> Iterator[Callable[[str, str], Consumer]]:
    """Start a consumer that joins a group on a topic; closed after the test."""
    started: list[Consumer] = []

    def join(group: str, topic: str) -> Consumer:
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap_servers,
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                **CONSUMER_SETTINGS,
            }
        )
        started.append(consumer)
        consumer.subscribe([topic])
        deadline = time.monotonic() + 30
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(0.2)
        assert consumer.assignment(), f"consumer did not join group {group}"
        return consumer

    yield join
    for consumer in started:
        consumer.close()
