"""Producing with a delivery report for every message."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from consumers.embedded.broker import free_port
from consumers.kafka.config import KafkaOptions, producer_config
from consumers.kafka.produce import OutgoingMessage, produce_all


def test_produce_all_delivered(
    bootstrap_servers: str, make_topic: Callable[..., str]
) -> None:
    topic = make_topic()
    producer = Producer(producer_config(bootstrap_servers))
    seen: list[str] = []
    messages = [
        OutgoingMessage(topic, b"k", f"v{i}".encode(), (("h", b"1"),), f"m{i}")
        for i in range(5)
    ]
    result = produce_all(
        producer, messages, on_delivered=lambda m: seen.append(m.label)
    )
    assert result.ok
    assert result.delivered == 5
    assert seen == ["m0", "m1", "m2", "m3", "m4"]


def test_produce_all_too_large(
    bootstrap_servers: str, make_topic: Callable[..., str]
) -> None:
    topic = make_topic()
    options = KafkaOptions.parse(["producer:message.max.bytes=1000"])
    producer = Producer(producer_config(bootstrap_servers, options))
    messages = [
        OutgoingMessage(topic, None, b"x" * 5000, label="big"),
        OutgoingMessage(topic, None, b"small", label="small"),
    ]
    result = produce_all(producer, messages)
    assert result.delivered == 1
    assert [f.message.label for f in result.failed] == ["big"]
    assert "too large" in result.failed[0].error.lower()


def test_produce_to_missing_topic_creates_none(bootstrap_servers: str) -> None:
    # Tansu 0.6 creates a missing topic, with 4 partitions, when a metadata
    # request allows it. Apache Kafka does so too with auto.create.topics.enable.
    topic = f"absent-{uuid.uuid4().hex[:10]}"
    options = KafkaOptions.parse(["producer:message.timeout.ms=2000"])
    producer = Producer(producer_config(bootstrap_servers, options))
    result = produce_all(producer, [OutgoingMessage(topic, None, b"v", label="m")])
    assert result.delivered == 0
    assert [f.message.label for f in result.failed] == ["m"]
    metadata = AdminClient({"bootstrap.servers": bootstrap_servers}).list_topics(
        timeout=10
    )
    assert topic not in metadata.topics


def test_produce_all_unreachable_broker() -> None:
    options = KafkaOptions.parse(["producer:message.timeout.ms=500"])
    producer = Producer(producer_config(f"127.0.0.1:{free_port()}", options))
    messages = [OutgoingMessage("t", None, b"v", label=f"m{i}") for i in range(3)]
    result = produce_all(producer, messages, flush_timeout=10)
    assert result.delivered == 0
    assert len(result.failed) == 3
