"""`ThreadedStage`: run an IO-bound function on a thread pool, in order, with
backpressure in both directions.

Arroyo's `RunTaskInThreads` drops a finished message when the next step
rejects it (`MessageRejected` raised from `poll`), so it cannot feed another
bounded step. This strategy keeps a finished message at the head of its
queue until the next step accepts it, and raises `MessageRejected` from
`submit` while `max_pending` messages are queued, so that backpressure from
the end of the chain reaches the stream processor, which pauses consumption.

Results leave in the order messages arrived. A function that raises
Arroyo's `InvalidMessage` has its message dead-lettered by the stream
processor and its offset forwarded as a filtered message so commits move
past it; any other exception propagates and stops the consumer.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Generic, TypeVar, cast

from arroyo.dlq import InvalidMessage, InvalidMessageState
from arroyo.processing.strategies.abstract import MessageRejected, ProcessingStrategy
from arroyo.types import FilteredPayload, Message

logger = logging.getLogger(__name__)

TIn = TypeVar("TIn")
TOut = TypeVar("TOut")


class ThreadedStage(ProcessingStrategy[FilteredPayload | TIn], Generic[TIn, TOut]):
    def __init__(
        self,
        function: Callable[[Message[TIn]], TOut],
        *,
        threads: int,
        max_pending: int,
        next_step: ProcessingStrategy[FilteredPayload | TOut],
        name: str,
    ) -> None:
        self.function = function
        self.max_pending = max_pending
        self.next_step = next_step
        self.name = name
        self.executor = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix=f"stage-{name}"
        )
        self.queue: deque[
            tuple[Message[FilteredPayload | TIn], Future[TOut] | None]
        ] = deque()
        self.invalid = InvalidMessageState()
        self.closed = False

    def submit(self, message: Message[FilteredPayload | TIn]) -> None:
        assert not self.closed
        if len(self.queue) >= self.max_pending:
            raise MessageRejected
        future: Future[TOut] | None = None
        if not isinstance(message.payload, FilteredPayload):
            future = self.executor.submit(self.function, cast(Message[TIn], message))
        self.queue.append((message, future))

    def _forward_invalid_offsets(self) -> bool:
        """Send the offsets of dead-lettered messages on; False if rejected."""
        if not len(self.invalid):
            return True
        filtered = self.invalid.build()
        if filtered is None:
            return True
        try:
            self.next_step.submit(filtered)
        except MessageRejected:
            return False
        self.invalid.reset()
        return True

    def _forward_done(self, wait_seconds: float | None) -> None:
        """Hand finished messages on in order until one is unfinished or rejected."""
        # Offsets of dead-lettered messages move on even when nothing else is
        # queued, so the last message of a quiet partition is committed.
        if not self._forward_invalid_offsets():
            return
        while self.queue:
            if not self._forward_invalid_offsets():
                return
            message, future = self.queue[0]
            if future is not None:
                if not future.done() and wait_seconds is not None:
                    wait([future], timeout=wait_seconds)
                if not future.done():
                    return
                # The future is done, so whatever `result` raises, a
                # TimeoutError included, is the function's own failure.
                try:
                    result = future.result()
                except InvalidMessage as e:
                    self.queue.popleft()
                    self.invalid.append(e)
                    raise
                next_message: Message[FilteredPayload | TOut] = Message(
                    message.value.replace(result)
                )
            else:
                next_message = cast(Message[FilteredPayload | TOut], message)
            try:
                self.next_step.submit(next_message)
            except MessageRejected:
                return
            self.queue.popleft()

    def poll(self) -> None:
        self.next_step.poll()
        self._forward_done(wait_seconds=None)

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.queue or len(self.invalid):
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                logger.warning(
                    "stage %s: %d messages unfinished at the join timeout",
                    self.name,
                    len(self.queue),
                )
                break
            self.next_step.poll()
            try:
                self._forward_done(wait_seconds=min(remaining or 0.1, 0.1))
            except InvalidMessage:
                # The processor cannot dead-letter during join; the message
                # stays uncommitted and is retried after the restart.
                logger.warning("stage %s: invalid message during join", self.name)
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.next_step.close()
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        self.next_step.join(remaining)

    def close(self) -> None:
        self.closed = True

    def terminate(self) -> None:
        self.closed = True
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.next_step.terminate()
