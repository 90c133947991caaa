"""Retry classification, Retry-After parsing and backoff bounds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consumers.seer.retry import (
    Backoff,
    RetryPolicy,
    is_retryable_status,
    parse_retry_after,
)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses(status: int) -> None:
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [400, 401, 404, 409, 413, 422])
def test_permanent_statuses(status: int) -> None:
    assert not is_retryable_status(status)


def test_retry_after_seconds() -> None:
    assert parse_retry_after("7") == 7.0


def test_retry_after_http_date() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now=now) == 30.0


def test_retry_after_past_date_is_zero() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5"])
def test_retry_after_unparsable(value: str | None) -> None:
    assert parse_retry_after(value) is None


def test_backoff_grows_and_caps() -> None:
    policy = RetryPolicy(backoff_initial_seconds=0.5, backoff_max_seconds=2.0)
    backoff = Backoff(policy, seed=1)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 2.0)]:
        delays = [backoff.delay_seconds(attempt, None) for _ in range(200)]
        assert max(delays) <= ceiling
        assert min(delays) >= 0.0
        assert max(delays) > ceiling / 2


def test_backoff_uses_capped_retry_after() -> None:
    backoff = Backoff(RetryPolicy(retry_after_max_seconds=5.0))
    assert backoff.delay_seconds(1, 3.0) == 3.0
    assert backoff.delay_seconds(1, 600.0) == 5.0


def test_policy_rejects_zero_attempts() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
