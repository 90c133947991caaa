"""Read a whole topic from the start, for summaries and tests."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, Message, TopicPartition

from consumers.kafka.config import NO_OPTIONS, KafkaOptions, reader_config


def read_until_idle(
    bootstrap_servers: str,
    topic: str,
    *,
    idle_seconds: float = 1.5,
    options: KafkaOptions = NO_OPTIONS,
) -> list[Message]:
    """Read every record of every partition until none arrives for `idle_seconds`.

    Stops on an idle gap instead of the high watermark, because the tansu
    test broker reports a watermark that is too low for batches of several
    records. Joins no group and commits nothing.
    """
    config = reader_config(bootstrap_servers, options)
    config["fetch.queue.backoff.ms"] = 10
    consumer = Consumer(config)
    records: list[Message] = []
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        last = time.monotonic()
        while time.monotonic() - last < idle_seconds:
            message = consumer.poll(0.2)
            if message is None or message.error() is not None:
                continue
            records.append(message)
            last = time.monotonic()
    finally:
        consumer.close()
    return records


def end_offsets(records: list[Message]) -> dict[int, int]:
    """Return the offset after the last of the records, per partition."""
    ends: dict[int, int] = {}
    for record in records:
        partition, offset = record.partition(), record.offset()
        if partition is not None and offset is not None:
            ends[partition] = max(ends.get(partition, 0), offset + 1)
    return ends
