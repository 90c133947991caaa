"""The hashing stage's worker pool, which closes without waiting on a busy worker."""

from __future__ import annotations

import functools
import multiprocessing

from arroyo.processing.strategies.run_task_with_multiprocessing import (
    MultiprocessingPool,
)

from consumers.pipeline import hashing


class WorkerPool(MultiprocessingPool):
    """Arroyo's worker pool of hashing processes, which exit when it closes.

    Workers ignore SIGTERM while the pool runs, so that a signal sent to the
    whole process group stops only the consumer. Arroyo closes a pool at
    shutdown and when a partition is revoked with batches still in the
    workers, and the standard library then sends SIGTERM and waits for every
    worker. The pool therefore sets `closing` first, and a worker exits on
    SIGTERM once it is set, busy or not. A worker's results count only after
    the pool returns them, so its exit loses no committed work.
    """

    def __init__(
        self, num_processes: int, rules_path: str | None, trim_interval_seconds: float
    ) -> None:
        # Arroyo's pool spawns its workers, so the event comes from that context.
        self.closing = multiprocessing.get_context("spawn").Event()
        super().__init__(
            num_processes,
            initializer=functools.partial(
                hashing.initialize_worker,
                rules_path,
                trim_interval_seconds,
                self.closing,
            ),
        )

    def maybe_create_pool(self) -> None:
        # A pool is created again on the next assignment after a close.
        self.closing.clear()
        super().maybe_create_pool()

    def close(self) -> None:
        self.closing.set()
        super().close()
