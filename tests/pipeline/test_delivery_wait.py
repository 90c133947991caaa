"""Waiting for the broker to acknowledge what a stage produced."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from datetime import UTC, datetime

import pytest
from arroyo.backends.kafka import KafkaPayload
from arroyo.types import BrokerValue, Partition, Topic

from consumers.pipeline.delivery import (
    DeliveryTimeout,
    wait_for_deliveries,
    wait_for_delivery,
)

Delivery = Future[BrokerValue[KafkaPayload]]


def delivered() -> BrokerValue[KafkaPayload]:
    payload = KafkaPayload(b"k", b"v", [])
    partition = Partition(Topic("backfill-project-batches"), 2)
    return BrokerValue(payload, partition, 17, datetime.now(UTC))


def test_returns_the_delivered_position() -> None:
    future: Delivery = Future()
    future.set_result(delivered())
    value = wait_for_delivery(future, 5.0, threading.Event(), "project=1")
    assert value.offset == 17
    assert value.partition.index == 2


def test_stopping_ends_the_wait_within_a_second() -> None:
    future: Delivery = Future()
    stopping = threading.Event()
    threading.Timer(0.2, stopping.set).start()
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"stopping .* project=1"):
        wait_for_delivery(future, 60.0, stopping, "project=1")
    assert time.monotonic() - started < 2.0


def test_times_out_without_an_ack() -> None:
    future: Delivery = Future()
    started = time.monotonic()
    with pytest.raises(DeliveryTimeout):
        wait_for_delivery(future, 0.3, threading.Event(), "project=1")
    assert time.monotonic() - started < 2.0


def test_timeout_names_the_batch() -> None:
    future: Delivery = Future()
    with pytest.raises(DeliveryTimeout, match=r"within 0.3 s project=1"):
        wait_for_delivery(future, 0.3, threading.Event(), "project=1")


def test_delivery_timeout_error_propagates() -> None:
    future: Delivery = Future()
    future.set_exception(TimeoutError("delivery timed out"))
    with pytest.raises(TimeoutError, match="delivery timed out") as raised:
        wait_for_delivery(future, 5.0, threading.Event(), "project=1")
    assert not isinstance(raised.value, DeliveryTimeout)


def test_deliveries_share_one_deadline() -> None:
    first: Delivery = Future()
    first.set_result(delivered())
    second: Delivery = Future()
    started = time.monotonic()
    with pytest.raises(DeliveryTimeout, match=r"the batch's outcomes within 0.3 s"):
        wait_for_deliveries(
            [first, second],
            0.3,
            threading.Event(),
            "project=1",
            produced="the batch's outcomes",
        )
    assert time.monotonic() - started < 2.0


def test_stopping_ends_the_wait_for_outcomes() -> None:
    pending: Delivery = Future()
    stopping = threading.Event()
    threading.Timer(0.2, stopping.set).start()
    with pytest.raises(
        RuntimeError,
        match=r"before the broker acknowledged the batch's outcomes project=1",
    ):
        wait_for_deliveries(
            [pending], 60.0, stopping, "project=1", produced="the batch's outcomes"
        )
