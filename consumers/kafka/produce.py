"""Produce a sequence of messages and account for every delivery report.

`produce_all` returns only after librdkafka has reported on every message
or the flush timeout has passed; a message without a report counts as
failed. The producer's idempotence (see `config.PRODUCER_DEFAULTS`) keeps
retries from duplicating messages, but a caller that re-runs after a
failure may publish the delivered ones again, so consumers must deduplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException, Message, Producer

logger = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to produce; `label` names it in errors (such as `project 42`)."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers = ()
    label: str = ""


@dataclass(frozen=True)
class FailedDelivery:
    message: OutgoingMessage
    error: str


@dataclass
class DeliveryResult:
    delivered: int = 0
    failed: list[FailedDelivery] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def produce_all(
    producer: Producer,
    messages: Iterable[OutgoingMessage],
    *,
    flush_timeout: float = 60.0,
    on_delivered: Callable[[OutgoingMessage], None] | None = None,
) -> DeliveryResult:
    """Produce every message, wait for all delivery reports, return the tally.

    `on_delivered` runs on this thread for each message the broker
    acknowledged, in acknowledgement order. Nothing raises for a failed
    message: it is logged and listed in the result. An exception raised by
    the `messages` iterator propagates after the messages produced so far
    are flushed.
    """
    result = DeliveryResult()
    pending: dict[int, OutgoingMessage] = {}

    def report(
        message: OutgoingMessage,
    ) -> Callable[[KafkaError | None, Message], None]:
        def callback(error: KafkaError | None, delivered: Message) -> None:
            pending.pop(id(message), None)
            if error is not None:
                _fail(result, message, str(error))
                return
            result.delivered += 1
            if on_delivered is not None:
                on_delivered(message)

        return callback

    try:
        for message in messages:
            pending[id(message)] = message
            try:
                _produce(producer, message, report(message))
            except KafkaException as e:
                pending.pop(id(message), None)
                _fail(result, message, str(e))
            producer.poll(0)
    finally:
        # Deliver what was produced even when `messages` raised.
        remaining = producer.flush(flush_timeout)
    if remaining:
        for message in list(pending.values()):
            _fail(result, message, f"no delivery report within {flush_timeout:.0f} s")
    if len(result.failed) > _LOGGED_FAILURES:
        logger.error(
            "%d deliveries failed; the first %d are logged above",
            len(result.failed),
            _LOGGED_FAILURES,
        )
    return result


def _produce(
    producer: Producer,
    message: OutgoingMessage,
    callback: Callable[[KafkaError | None, Message], None],
) -> None:
    while True:
        try:
            producer.produce(
                message.topic,
                key=message.key,
                value=message.value,
                headers=list(message.headers),
                on_delivery=callback,
            )
            return
        except BufferError:
            # librdkafka's local queue is full: serve delivery reports, retry.
            producer.poll(0.5)


# Failures beyond this many are counted in the result but not logged one by one.
_LOGGED_FAILURES = 10


def _fail(result: DeliveryResult, message: OutgoingMessage, error: str) -> None:
    result.failed.append(FailedDelivery(message, error))
    if len(result.failed) > _LOGGED_FAILURES:
        return
    logger.error(
        "delivery of %s to topic %s failed: %s",
        message.label or "message",
        message.topic,
        error,
    )
