"""RateLimiter and ConcurrencyLimiter under real threads and a fake clock."""

from __future__ import annotations

import threading
import time

import pytest

from consumers.seer.limiter import ConcurrencyLimiter, RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_rate_limiter_spaces_requests() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10.0, clock=clock.time, sleep=clock.sleep)
    waits = [limiter.acquire() for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.1, 0.1, 0.1])


def test_rate_limiter_burst_then_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10.0, burst=3, clock=clock.time, sleep=clock.sleep)
    waits = [limiter.acquire() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.1])


def test_rate_limiter_idle_does_not_bank_tokens() -> None:
    clock = FakeClock()
    limiter = RateLimiter(10.0, burst=2, clock=clock.time, sleep=clock.sleep)
    clock.now += 60.0
    waits = [limiter.acquire() for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.0, 0.1, 0.1])


def test_rate_limiter_ceiling_across_threads() -> None:
    rate = 50.0
    limiter = RateLimiter(rate, burst=1)
    granted: list[float] = []
    lock = threading.Lock()
    started = time.monotonic()
    stop_at = started + 1.0

    def work() -> None:
        while time.monotonic() < stop_at:
            limiter.acquire()
            with lock:
                granted.append(time.monotonic())

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    window = max(granted) - started
    # Every grant's slot is no later than its recorded time, and slots are
    # 1 / rate apart from the first, so no run of grants can beat this bound.
    assert len(granted) <= 1 + rate * window
    assert len(granted) >= 0.5 * rate


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_rate_limiter_rejects_invalid(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="Invalid"):
        RateLimiter(rate, burst)


def test_concurrency_limiter_caps_in_flight() -> None:
    limiter = ConcurrencyLimiter(3)
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal in_flight, peak
        with limiter.slot():
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            time.sleep(0.02)
            with lock:
                in_flight -= 1

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak <= 3
    assert peak >= 2


def test_concurrency_limiter_rejects_zero() -> None:
    with pytest.raises(ValueError, match="Invalid max concurrency"):
        ConcurrencyLimiter(0)
