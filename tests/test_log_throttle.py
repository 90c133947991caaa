"""LogThrottle: one line per key per interval, with the count of dropped lines."""

from __future__ import annotations

import logging
import threading

import pytest

from consumers.log_throttle import LogThrottle


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_line_passes() -> None:
    throttle = LogThrottle(10.0, clock=FakeClock())
    assert throttle.admit("seer") == 0


def test_repeat_within_interval_dropped() -> None:
    clock = FakeClock()
    throttle = LogThrottle(10.0, clock=clock)
    throttle.admit("seer")
    clock.now += 9.9
    assert throttle.admit("seer") is None
    assert throttle.admit("seer") is None


def test_line_after_interval_reports_count() -> None:
    clock = FakeClock()
    throttle = LogThrottle(10.0, clock=clock)
    throttle.admit("seer")
    for _ in range(3):
        assert throttle.admit("seer") is None
    clock.now += 10.0
    assert throttle.admit("seer") == 3
    clock.now += 10.0
    assert throttle.admit("seer") == 0


def test_interval_restarts_at_admitted_line() -> None:
    clock = FakeClock()
    throttle = LogThrottle(10.0, clock=clock)
    throttle.admit("seer")
    clock.now += 25.0
    assert throttle.admit("seer") == 0
    clock.now += 5.0
    assert throttle.admit("seer") is None


def test_keys_are_independent() -> None:
    throttle = LogThrottle(10.0, clock=FakeClock())
    assert throttle.admit("timeout") == 0
    assert throttle.admit("connection_error") == 0
    assert throttle.admit("timeout") is None


def test_zero_interval_admits_every_line() -> None:
    throttle = LogThrottle(0.0, clock=FakeClock())
    assert [throttle.admit("seer") for _ in range(3)] == [0, 0, 0]


def test_negative_interval_rejected() -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        LogThrottle(-1.0)


def test_concurrent_admit_passes_one_line() -> None:
    clock = FakeClock()
    throttle = LogThrottle(10.0, clock=clock)
    threads_count = 16
    calls_per_thread = 200
    results: list[int | None] = []
    results_lock = threading.Lock()
    start = threading.Barrier(threads_count)

    def work() -> None:
        start.wait()
        mine = [throttle.admit("seer") for _ in range(calls_per_thread)]
        with results_lock:
            results.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    total = threads_count * calls_per_thread
    assert results.count(0) == 1
    assert results.count(None) == total - 1
    clock.now += 10.0
    assert throttle.admit("seer") == total - 1


def test_log_appends_suppressed_count(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    throttle = LogThrottle(10.0, clock=clock)
    logger = logging.getLogger("tests.log_throttle")
    caplog.set_level(logging.WARNING, logger=logger.name)

    assert throttle.log(logger, logging.WARNING, "seer", "retry %d (%s)", 1, "p=1")
    assert not throttle.log(logger, logging.WARNING, "seer", "retry %d (%s)", 2, "p=2")
    assert not throttle.log(logger, logging.WARNING, "seer", "retry %d (%s)", 3, "p=3")
    clock.now += 10.0
    assert throttle.log(logger, logging.WARNING, "seer", "retry %d (%s)", 4, "p=4")

    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "retry 1 (p=1)",
        "retry 4 (p=4) (2 similar lines suppressed since the previous one)",
    ]
    assert {record.levelno for record in caplog.records} == {logging.WARNING}


def test_log_record_names_caller(caplog: pytest.LogCaptureFixture) -> None:
    throttle = LogThrottle(10.0, clock=FakeClock())
    logger = logging.getLogger("tests.log_throttle")
    caplog.set_level(logging.WARNING, logger=logger.name)
    throttle.log(logger, logging.WARNING, "seer", "retrying")
    assert caplog.records[0].funcName == "test_log_record_names_caller"
