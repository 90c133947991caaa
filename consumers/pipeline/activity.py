"""Counts messages entering and leaving the chain, to tell when it is idle.

`seer-backfill run --exit-after-idle-seconds N` and the demo stop the
consumer once every message read has been committed or dead-lettered and
nothing new arrived for N seconds. Watermarks are not used, because the
test broker reports wrong ones.
"""

from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

from arroyo.processing.strategies.abstract import ProcessingStrategy
from arroyo.types import FilteredPayload, Message

T = TypeVar("T")


class Activity:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entered = 0
        self.finished = 0
        self.dead_lettered = 0
        self.last_change = time.monotonic()
        self.assigned = False
        self.holding = False
        self.released_at = self.last_change

    def _touch(self) -> None:
        self.last_change = time.monotonic()

    def assign(self) -> None:
        """Record a partition assignment; idleness counts from the first one."""
        with self._lock:
            self.assigned = True
            self.holding = True
            self._touch()

    def release(self) -> None:
        """Record that the chain of the assigned partitions closed."""
        with self._lock:
            self.holding = False
            self.released_at = time.monotonic()

    def seconds_without_partitions(self) -> float:
        """Seconds since the consumer last had partitions assigned (or since
        start); 0 while it has some."""
        with self._lock:
            if self.holding:
                return 0.0
            return time.monotonic() - self.released_at

    def enter(self) -> None:
        with self._lock:
            self.entered += 1
            self._touch()

    def finish(self) -> None:
        with self._lock:
            self.finished += 1
            self._touch()

    def dead_letter(self, reason: str) -> None:
        with self._lock:
            self.dead_lettered += 1
            self._touch()

    def in_flight(self) -> int:
        with self._lock:
            return self.entered - self.finished - self.dead_lettered

    def idle_seconds(self) -> float:
        """Seconds since the last change, or 0 before any partition was assigned."""
        if not self.assigned:
            return 0.0
        return time.monotonic() - self.last_change


class CountEntering(ProcessingStrategy[T | FilteredPayload], Generic[T]):
    """Pass-through step at the head of the chain."""

    def __init__(
        self, activity: Activity, next_step: ProcessingStrategy[T | FilteredPayload]
    ) -> None:
        self.activity = activity
        self.next_step = next_step

    def submit(self, message: Message[T | FilteredPayload]) -> None:
        self.next_step.submit(message)
        self.activity.enter()

    def poll(self) -> None:
        self.next_step.poll()

    def join(self, timeout: float | None = None) -> None:
        self.next_step.join(timeout)

    def close(self) -> None:
        # Arroyo closes the chain when its partitions are revoked, and builds
        # a new one (which calls `Activity.assign`) for those that remain.
        self.activity.release()
        self.next_step.close()

    def terminate(self) -> None:
        self.activity.release()
        self.next_step.terminate()


class CountFinished(ProcessingStrategy[T | FilteredPayload], Generic[T]):
    """Pass-through step just before the commit step."""

    def __init__(
        self, activity: Activity, next_step: ProcessingStrategy[T | FilteredPayload]
    ) -> None:
        self.activity = activity
        self.next_step = next_step

    def submit(self, message: Message[T | FilteredPayload]) -> None:
        self.next_step.submit(message)
        if not isinstance(message.payload, FilteredPayload):
            self.activity.finish()

    def poll(self) -> None:
        self.next_step.poll()

    def join(self, timeout: float | None = None) -> None:
        self.next_step.join(timeout)

    def close(self) -> None:
        self.next_step.close()

    def terminate(self) -> None:
        self.next_step.terminate()
