"""When to retry a Seer request and how long to wait before the next attempt."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Statuses after which the same request may succeed: request timeout, rate
# limit and every server error.
RETRYABLE_STATUSES = frozenset({408, 429})
# Statuses that no request from this client can pass until an operator acts.
MISCONFIGURED_STATUSES = frozenset({401, 403, 404, 405})


def is_retryable_status(status_code: int) -> bool:
    return status_code >= 500 or status_code in RETRYABLE_STATUSES


def parse_retry_after(
    value: str | None, *, now: datetime | None = None
) -> float | None:
    """Return the delay in seconds a `Retry-After` header asks for.

    The header holds either delta seconds or an HTTP date. Returns None for a
    missing or unparsable value, and 0 for a date in the past.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with full-jitter exponential backoff.

    Attempt `n` (counting from 1) that failed waits a random time in
    `[0, min(backoff_max_seconds, backoff_initial_seconds * 2 ** (n - 1))]`,
    or what `Retry-After` asks for when the server sent it, capped at
    `retry_after_max_seconds`. At most `max_attempts` requests are sent.
    """

    max_attempts: int = 4
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 10.0
    retry_after_max_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(
                f"Invalid max_attempts {self.max_attempts!r}: it must be at least 1."
            )
        if self.backoff_initial_seconds < 0 or self.backoff_max_seconds < 0:
            raise ValueError("Invalid backoff: seconds must not be negative.")


class Backoff:
    """Computes the delays of one `RetryPolicy`; thread-safe."""

    def __init__(self, policy: RetryPolicy, seed: int | None = None) -> None:
        self.policy = policy
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def delay_seconds(self, attempt: int, retry_after_seconds: float | None) -> float:
        """Return the wait after failed attempt `attempt` (counting from 1)."""
        policy = self.policy
        if retry_after_seconds is not None:
            return min(retry_after_seconds, policy.retry_after_max_seconds)
        ceiling = min(
            policy.backoff_max_seconds,
            policy.backoff_initial_seconds * 2 ** (attempt - 1),
        )
        with self._lock:
            return self._random.uniform(0.0, ceiling)
