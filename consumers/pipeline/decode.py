"""Stage 1, decode: raw Kafka payload → `DecodedBatch`.

Runs in the consumer thread (`RunTask`). A message that is not a valid
project-batch message raises Arroyo's `InvalidMessage`, so the stream
processor sends the raw message to the dead-letter topic and commits past
it. The reason passed along is `"<code>: <detail>"`; the DLQ producer splits
it into the `reason` and `reason_detail` headers. Decoding has no side
effects and is safe to replay.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from arroyo.backends.kafka import KafkaPayload
from arroyo.dlq import InvalidMessage
from arroyo.types import BrokerValue, Message

from consumers.messages import InvalidBatch, decode_project_batch
from consumers.ops.metrics import time_stage
from consumers.pipeline.types import Coordinates, DecodedBatch

logger = logging.getLogger(__name__)


def coordinates_of(message: Message[KafkaPayload]) -> Coordinates:
    value = message.value
    if not isinstance(value, BrokerValue):
        raise TypeError("the decode stage needs messages read from a broker")
    timestamp = value.timestamp
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=UTC)
    return Coordinates(
        topic=value.partition.topic.name,
        partition=value.partition.index,
        offset=value.offset,
        timestamp=timestamp,
    )


def decode(message: Message[KafkaPayload]) -> DecodedBatch:
    """Decode one message; raise `InvalidMessage` with a reason when it is invalid."""
    source = coordinates_of(message)
    try:
        with time_stage("decode"):
            batch = decode_project_batch(message.payload.value)
    except InvalidBatch as e:
        logger.warning(
            "invalid project-batch message at topic=%s partition=%d offset=%d: %s",
            source.topic,
            source.partition,
            source.offset,
            e,
        )
        value = message.value
        assert isinstance(value, BrokerValue)
        raise InvalidMessage(
            value.partition,
            value.offset,
            reason=f"{e.reason}: {e.detail}",
            log_exception=False,
        ) from e
    return DecodedBatch(batch=batch, source=source)


def now_utc() -> datetime:
    return datetime.now(UTC)
