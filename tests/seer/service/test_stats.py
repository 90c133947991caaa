from __future__ import annotations

from consumers.seer.service.stats import ServiceStats


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def arrive(stats: ServiceStats, clock: FakeClock, at: float) -> None:
    clock.now = at
    stats.enter()
    stats.exit()


def test_max_per_second_busiest_window() -> None:
    clock = FakeClock()
    stats = ServiceStats(clock)
    # Three arrivals within 0.9 s, then a quiet second, then two.
    for at in (100.0, 100.4, 100.9, 102.5, 102.6):
        arrive(stats, clock, at)
    assert stats.snapshot(records=0).max_per_second == 3


def test_max_per_second_separate_windows() -> None:
    clock = FakeClock()
    stats = ServiceStats(clock)
    for at in (100.0, 101.0, 102.0, 103.0):
        arrive(stats, clock, at)
    assert stats.snapshot(records=0).max_per_second == 1


def test_reset_clears_peak() -> None:
    clock = FakeClock()
    stats = ServiceStats(clock)
    arrive(stats, clock, 100.0)
    arrive(stats, clock, 100.1)
    stats.reset()
    arrive(stats, clock, 100.2)
    assert stats.snapshot(records=0).max_per_second == 1
