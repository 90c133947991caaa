"""Fresh topics on the session's tansu broker for the Kafka helper tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]


@pytest.fixture
def admin(bootstrap_servers: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap_servers})


@pytest.fixture
def make_topic(admin: AdminClient) -> Callable[..., str]:
    """Create a topic with a unique name; returns the name."""

    def create(partitions: int = 1) -> str:
        name = f"kafka-{uuid.uuid4().hex[:10]}"
        admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=10)
        return name

    return create


@pytest.fixture
def produce_each(bootstrap_servers: str) -> Callable[[str, int, int], None]:
    """Produce `count` messages to one partition, each flushed on its own.

    One record per batch keeps tansu's high watermark exact.
    """

    def produce(topic: str, partition: int, count: int) -> None:
        producer = Producer({"bootstrap.servers": bootstrap_servers})
        for i in range(count):
            producer.produce(topic, value=f"v{i}".encode(), partition=partition)
            assert producer.flush(10) == 0

    return produce
