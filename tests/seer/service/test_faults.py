"""Fault knobs: validation, updates from JSON, seeded decisions, slots."""

from __future__ import annotations

import math
import threading

import pytest

from consumers.seer.service.faults import FaultConfig, FaultInjector


def statuses(injector: FaultInjector, count: int) -> list[int | None]:
    return [injector.decide().error_status for _ in range(count)]


def test_seeded_decisions_repeat() -> None:
    config = FaultConfig(error_rate=0.5, latency_jitter_ms=10, seed=42)
    injector_a, injector_b = FaultInjector(config), FaultInjector(config)
    assert statuses(injector_a, 50) == statuses(injector_b, 50)
    assert FaultInjector(config).decide() == FaultInjector(config).decide()


def test_error_rate_roughly_honoured() -> None:
    injector = FaultInjector(FaultConfig(error_rate=0.3, error_status=502, seed=1))
    drawn = statuses(injector, 1000)
    assert 200 <= drawn.count(502) <= 400
    assert drawn.count(None) == 1000 - drawn.count(502)


def test_fail_next_counts_down() -> None:
    injector = FaultInjector(FaultConfig(fail_next=2, error_status=503))
    assert statuses(injector, 4) == [503, 503, None, None]
    assert injector.config.fail_next == 0


def test_configure_restarts_fail_next() -> None:
    injector = FaultInjector(FaultConfig(fail_next=1))
    statuses(injector, 3)
    injector.configure(FaultConfig(fail_next=1))
    assert statuses(injector, 2) == [503, None]


def test_latency_within_jitter() -> None:
    injector = FaultInjector(FaultConfig(latency_ms=50, latency_jitter_ms=20, seed=3))
    delays = [injector.decide().delay_seconds for _ in range(200)]
    assert min(delays) >= 0.05
    assert max(delays) <= 0.07


def test_hang_forever_is_infinite() -> None:
    injector = FaultInjector(FaultConfig(hang_forever=True))
    assert injector.decide().hang_seconds == math.inf


def test_hang_rate_zero_never_hangs() -> None:
    injector = FaultInjector(FaultConfig(hang_seconds=5, hang_rate=0.0))
    assert injector.decide().hang_seconds is None


def test_updated_coerces_json_numbers() -> None:
    changes = {"latency_ms": 5, "seed": None, "overload": "reject"}
    updated = FaultConfig().updated(changes)
    assert updated.latency_ms == 5.0
    assert updated.overload == "reject"


@pytest.mark.parametrize(
    "changes",
    [
        {"error_rate": 1.5},
        {"error_status": 200},
        {"latency_ms": -1},
        {"latency_ms": float("inf")},
        {"hang_seconds": float("nan")},
        {"latency_ms": "5"},
        {"hang_forever": 1},
        {"fail_next": 1.5},
        {"error_status": None},
        {"fault_phase": "during"},
        {"nonsense": 1},
    ],
)
def test_updated_rejects_invalid(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"Invalid|Unknown"):
        FaultConfig().updated(changes)


def test_slot_rejects_beyond_limit() -> None:
    injector = FaultInjector(FaultConfig(max_concurrency=1, overload="reject"))
    stopping = threading.Event()
    with injector.slot(stopping) as first, injector.slot(stopping) as second:
        assert first is True
        assert second is False
    with injector.slot(stopping) as again:
        assert again is True


def test_slot_wait_returns_on_stop() -> None:
    injector = FaultInjector(FaultConfig(max_concurrency=1, overload="wait"))
    stopping = threading.Event()
    results: list[bool] = []

    def wait_for_slot() -> None:
        with injector.slot(stopping) as admitted:
            results.append(admitted)

    with injector.slot(stopping):
        waiter = threading.Thread(target=wait_for_slot)
        waiter.start()
        stopping.set()
        waiter.join(timeout=2)
    assert results == [False]
