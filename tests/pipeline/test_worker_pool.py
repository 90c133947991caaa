"""The hashing worker pool closes at once, even with a busy worker."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from consumers.pipeline.worker_pool import WorkerPool


def _pool() -> WorkerPool:
    return WorkerPool(1, rules_path=None, trim_interval_seconds=0.0)


def _start_busy_task(pool: WorkerPool, tmp_path: Path) -> None:
    """Occupy the pool's only worker with a two-minute sleep."""
    # Arroyo's pool spawns its workers, so tasks are pickled by reference and
    # must come from importable modules, which this test module is not.
    started = tmp_path / "worker-started"
    pool.apply_async(os.mkdir, (str(started),)).get(timeout=60)
    assert started.is_dir()
    busy = pool.apply_async(time.sleep, (120.0,))
    time.sleep(0.5)
    assert not busy.ready()


def _close_within(pool: WorkerPool, seconds: float) -> bool:
    closer = threading.Thread(target=pool.close, daemon=True)
    closer.start()
    closer.join(seconds)
    return not closer.is_alive()


def test_close_with_busy_worker(tmp_path: Path) -> None:
    pool = _pool()
    _start_busy_task(pool, tmp_path)

    started = time.monotonic()
    assert _close_within(pool, 20.0)
    assert time.monotonic() - started < 10.0


def test_worker_ignores_sigterm_while_open() -> None:
    # A SIGTERM sent to the whole process group is for the consumer alone.
    pool = _pool()
    try:
        worker = pool.apply_async(os.getpid).get(timeout=60)
        os.kill(worker, signal.SIGTERM)
        time.sleep(1.0)
        assert pool.apply_async(os.getpid).get(timeout=60) == worker
    finally:
        assert _close_within(pool, 20.0)


def test_pool_works_after_close(tmp_path: Path) -> None:
    pool = _pool()
    _start_busy_task(pool, tmp_path)
    assert _close_within(pool, 20.0)

    # Arroyo creates the pool again on the next partition assignment.
    pool.maybe_create_pool()
    try:
        assert pool.apply_async(time.sleep, (0.0,)).get(timeout=60) is None
    finally:
        assert _close_within(pool, 20.0)
