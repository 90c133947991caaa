"""Waiting for the broker to acknowledge what a stage produced.

The lookup stage waits for the chain's next batch and the onward stage for
the batch's outcomes before the batch may be committed. Both waits end
within a second once the consumer is stopping, so a shutdown during a
broker outage does not wait out the timeout. Either way the batch stays
uncommitted and runs again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from arroyo.backends.abstract import ProducerFuture
from arroyo.backends.kafka import KafkaPayload
from arroyo.types import BrokerValue

Delivery = ProducerFuture[BrokerValue[KafkaPayload]]


class DeliveryTimeout(TimeoutError):
    """The broker did not acknowledge a delivery within the stage's timeout."""


def wait_for_deliveries(
    futures: Sequence[Delivery],
    timeout_seconds: float,
    stopping: threading.Event,
    log_ids: str,
    *,
    produced: str,
) -> list[BrokerValue[KafkaPayload]]:
    """Return the broker's position of each delivery, in order.

    Raises `DeliveryTimeout` naming `produced` when the deliveries are not all
    acknowledged within `timeout_seconds`, `RuntimeError` within a second
    once `stopping` is set, and a delivery's own exception when it failed.
    """
    deadline = time.monotonic() + timeout_seconds
    return [
        _wait(future, deadline, timeout_seconds, stopping, log_ids, produced)
        for future in futures
    ]


def wait_for_delivery(
    future: Delivery,
    timeout_seconds: float,
    stopping: threading.Event,
    log_ids: str,
    *,
    produced: str = "the next batch",
) -> BrokerValue[KafkaPayload]:
    """Return the broker's position of one delivery; see `wait_for_deliveries`."""
    return wait_for_deliveries(
        [future], timeout_seconds, stopping, log_ids, produced=produced
    )[0]


def _wait(
    future: Delivery,
    deadline: float,
    timeout_seconds: float,
    stopping: threading.Event,
    log_ids: str,
    produced: str,
) -> BrokerValue[KafkaPayload]:
    while True:
        remaining = max(0.0, deadline - time.monotonic())
        try:
            return future.result(timeout=min(1.0, remaining))
        except TimeoutError:
            if future.done():
                # The delivery itself failed with a TimeoutError, or ended
                # just after the wait gave up: either way its own outcome.
                return future.result()
        if stopping.is_set():
            raise RuntimeError(
                "consumer is stopping before the broker acknowledged "
                f"{produced} {log_ids}"
            )
        if time.monotonic() >= deadline:
            raise DeliveryTimeout(
                f"the broker did not acknowledge {produced} within "
                f"{timeout_seconds:g} s {log_ids}"
            )
