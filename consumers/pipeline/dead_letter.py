"""The dead-letter producer: invalid messages, raw, with the reason in headers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from arroyo.backends.abstract import Producer, ProducerFuture
from arroyo.backends.kafka import KafkaPayload
from arroyo.dlq import DlqLimit, DlqLimitState, DlqProducer, KafkaDlqProducer
from arroyo.types import BrokerValue, Partition, Topic

from consumers.messages import INVALID_BATCH_REASONS

logger = logging.getLogger(__name__)

# Headers set on every dead-lettered message.
REASON = "reason"
REASON_DETAIL = "reason_detail"
ORIGINAL_TOPIC = "original_topic"
ORIGINAL_PARTITION = "original_partition"
ORIGINAL_OFFSET = "original_offset"

# The `reason` codes the consumer writes: invalid messages, Seer's refusal,
# and `unknown` for a dead letter without a reason.
DEAD_LETTER_REASONS = (*INVALID_BATCH_REASONS, "seer_rejected", "unknown")


def split_reason(reason: str | None) -> tuple[str, str]:
    """Split Arroyo's free-text reason `"<code>: <detail>"` into its parts."""
    if not reason:
        return "unknown", ""
    code, _, detail = reason.partition(": ")
    return code, detail


class DeadLetterProducer(DlqProducer[KafkaPayload]):
    """Sends the raw message, with its original key, to the DLQ topic.

    Headers: `reason` (a stable code such as `invalid_msgpack`), `reason_detail`,
    `original_topic`, `original_partition` and `original_offset`. Headers of
    the original message are kept.
    """

    def __init__(
        self,
        producer: Producer[KafkaPayload],
        topic: Topic,
        on_dead_letter: Callable[[str], None] | None = None,
    ) -> None:
        self.producer = producer
        self.topic = topic
        self.on_dead_letter = on_dead_letter

    def produce(
        self, value: BrokerValue[KafkaPayload], reason: str | None = None
    ) -> ProducerFuture[BrokerValue[KafkaPayload]]:
        code, detail = split_reason(reason)
        headers = [
            *value.payload.headers,
            (REASON, code.encode()),
            (REASON_DETAIL, detail.encode()),
            (ORIGINAL_TOPIC, value.partition.topic.name.encode()),
            (ORIGINAL_PARTITION, str(value.partition.index).encode()),
            (ORIGINAL_OFFSET, str(value.offset).encode()),
        ]
        logger.warning(
            "dead-lettering message topic=%s partition=%d offset=%d reason=%s: %s",
            value.partition.topic.name,
            value.partition.index,
            value.offset,
            code,
            detail,
        )
        if self.on_dead_letter is not None:
            self.on_dead_letter(code)
        payload = KafkaPayload(value.payload.key, value.payload.value, headers)
        return self.producer.produce(self.topic, payload)

    @classmethod
    def build_initial_state(
        cls, limit: DlqLimit | None, assignment: Mapping[Partition, int]
    ) -> DlqLimitState:
        return KafkaDlqProducer.build_initial_state(limit, assignment)
