"""ThreadedStage: order, backpressure in both directions, dead letters."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from arroyo.dlq import InvalidMessage
from arroyo.processing.strategies.abstract import MessageRejected, ProcessingStrategy
from arroyo.types import BrokerValue, FilteredPayload, Message, Partition, Topic

from consumers.pipeline.threaded import ThreadedStage

PARTITION = Partition(Topic("t"), 0)


def _message(offset: int) -> Message[int]:
    return Message(BrokerValue(offset, PARTITION, offset, datetime.now(UTC)))


class Collect(ProcessingStrategy[FilteredPayload | int]):
    """A next step that accepts `capacity` messages, then rejects."""

    def __init__(self, capacity: int = 1_000) -> None:
        self.capacity = capacity
        self.received: list[Message[FilteredPayload | int]] = []

    def submit(self, message: Message[FilteredPayload | int]) -> None:
        if len(self.received) >= self.capacity:
            raise MessageRejected
        self.received.append(message)

    def poll(self) -> None:
        pass

    def join(self, timeout: float | None = None) -> None:
        pass

    def close(self) -> None:
        pass

    def terminate(self) -> None:
        pass


def _drain(stage: ProcessingStrategy[Any], until: int, sink: Collect) -> None:
    deadline = time.monotonic() + 10
    while len(sink.received) < until and time.monotonic() < deadline:
        stage.poll()
        time.sleep(0.01)


def test_results_keep_arrival_order() -> None:
    sink = Collect()

    def slow_for_even(message: Message[int]) -> int:
        if message.payload % 2 == 0:
            time.sleep(0.05)
        return message.payload * 10

    stage = ThreadedStage(
        slow_for_even, threads=4, max_pending=10, next_step=sink, name="t"
    )
    for offset in range(6):
        stage.submit(_message(offset))
    _drain(stage, 6, sink)
    assert [m.payload for m in sink.received] == [0, 10, 20, 30, 40, 50]


def test_full_queue_rejects_submit() -> None:
    release = threading.Event()

    def blocked(message: Message[int]) -> int:
        release.wait(5)
        return message.payload

    stage = ThreadedStage(
        blocked, threads=1, max_pending=2, next_step=Collect(), name="t"
    )
    stage.submit(_message(0))
    stage.submit(_message(1))
    with pytest.raises(MessageRejected):
        stage.submit(_message(2))
    release.set()


def test_rejected_result_is_kept_not_dropped() -> None:
    sink = Collect(capacity=1)
    stage = ThreadedStage(
        lambda m: m.payload, threads=2, max_pending=5, next_step=sink, name="t"
    )
    for offset in range(3):
        stage.submit(_message(offset))
    time.sleep(0.1)
    stage.poll()
    assert [m.payload for m in sink.received] == [0]
    sink.capacity = 10
    _drain(stage, 3, sink)
    assert [m.payload for m in sink.received] == [0, 1, 2]


def test_invalid_message_forwards_its_offset() -> None:
    sink = Collect()

    def reject_one(message: Message[int]) -> int:
        if message.payload == 1:
            raise InvalidMessage(PARTITION, 1, reason="bad: one")
        return message.payload

    stage = ThreadedStage(
        reject_one, threads=1, max_pending=5, next_step=sink, name="t"
    )
    for offset in range(3):
        stage.submit(_message(offset))
    time.sleep(0.1)
    with pytest.raises(InvalidMessage):
        for _ in range(50):
            stage.poll()
            time.sleep(0.01)
    _drain(stage, 3, sink)
    payloads = [m.payload for m in sink.received]
    assert payloads[0] == 0
    assert isinstance(payloads[1], FilteredPayload)
    assert sink.received[1].committable == {PARTITION: 2}
    assert payloads[2] == 2


def test_join_waits_for_unfinished_work() -> None:
    sink = Collect()

    def slow(message: Message[int]) -> int:
        time.sleep(0.1)
        return message.payload

    stage = ThreadedStage(slow, threads=1, max_pending=5, next_step=sink, name="t")
    stage.submit(_message(0))
    stage.submit(_message(1))
    stage.close()
    stage.join(timeout=5)
    assert [m.payload for m in sink.received] == [0, 1]


@pytest.mark.parametrize("error", [TimeoutError, RuntimeError])
def test_function_error_stops_the_stage(error: type[Exception]) -> None:
    def failing(message: Message[int]) -> int:
        raise error("produce timed out")

    stage = ThreadedStage(
        failing, threads=1, max_pending=4, next_step=Collect(), name="t"
    )
    stage.submit(_message(0))
    deadline = time.monotonic() + 5
    with pytest.raises(error, match="produce timed out"):
        while time.monotonic() < deadline:
            stage.poll()
            time.sleep(0.01)


def test_function_timeout_during_join_raises() -> None:
    def failing(message: Message[int]) -> int:
        raise TimeoutError("produce timed out")

    stage = ThreadedStage(
        failing, threads=1, max_pending=4, next_step=Collect(), name="t"
    )
    stage.submit(_message(0))
    stage.close()
    with pytest.raises(TimeoutError, match="produce timed out"):
        stage.join(timeout=5)
