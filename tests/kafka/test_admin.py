"""Broker queries: partitions, watermarks, committed offsets, group state."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from consumers.kafka.admin import (
    GroupDescription,
    GroupMember,
    GroupState,
    KafkaAdminError,
    alter_committed_offsets,
    committed_offsets,
    describe_group,
    select_partitions,
    topic_partitions,
    watermarks,
)
from consumers.kafka.config import reader_config


def test_topic_partitions(admin: AdminClient, make_topic: Callable[..., str]) -> None:
    assert topic_partitions(admin, make_topic(3)) == [0, 1, 2]


def test_topic_partitions_missing(admin: AdminClient) -> None:
    name = f"missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(KafkaAdminError, match="not found"):
        topic_partitions(admin, name)
    # The lookup must not create the topic on brokers that auto-create.
    assert name not in admin.list_topics(timeout=10).topics


def test_select_partitions() -> None:
    assert select_partitions([0, 1, 2], None) == [0, 1, 2]
    assert select_partitions([0, 1, 2], [2, 0, 2]) == [0, 2]


def test_select_partitions_unknown() -> None:
    with pytest.raises(KafkaAdminError, match=r"\[5\] do not exist"):
        select_partitions([0, 1], [1, 5])


def test_watermarks(
    bootstrap_servers: str,
    make_topic: Callable[..., str],
    produce_each: Callable[[str, int, int], None],
) -> None:
    topic = make_topic(2)
    produce_each(topic, 1, 3)
    consumer = Consumer(reader_config(bootstrap_servers))
    try:
        marks = watermarks(consumer, topic, [0, 1])
    finally:
        consumer.close()
    assert (marks[0].low, marks[0].high) == (0, 0)
    assert (marks[1].low, marks[1].high) == (0, 3)


def test_committed_offsets_round_trip(
    admin: AdminClient, make_topic: Callable[..., str]
) -> None:
    topic = make_topic(2)
    group = f"g-{uuid.uuid4().hex[:8]}"
    assert committed_offsets(admin, group, topic, [0, 1]) == {0: None, 1: None}
    alter_committed_offsets(admin, group, topic, {1: 0})
    assert committed_offsets(admin, group, topic, [0, 1]) == {0: None, 1: 0}


def test_describe_group_states(
    admin: AdminClient, bootstrap_servers: str, make_topic: Callable[..., str]
) -> None:
    topic = make_topic()
    group = f"g-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": group,
            "session.timeout.ms": 6000,
        }
    )
    consumer.subscribe([topic])
    deadline = time.monotonic() + 30
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(0.2)
    running = describe_group(admin, group, topic)
    consumer.close()
    stopped = describe_group(admin, group, topic)
    assert running.state is GroupState.STABLE
    assert not running.is_inactive
    assert stopped.state is GroupState.EMPTY
    assert stopped.is_inactive


def test_owner_of_partition() -> None:
    member = GroupMember("m-1", "client", "/10.0.0.1", (0, 2))
    description = GroupDescription("g", GroupState.STABLE, (member,))
    assert description.owner_of(2) is member
    assert description.owner_of(1) is None
