"""When to retry a Seer request, what a failed attempt raises, and the backoff."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from consumers.seer.errors import (
    SeerError,
    SeerMisconfigured,
    SeerRejected,
    SeerUnavailable,
    excerpt,
)
from consumers.seer.observer import Outcome
from consumers.seer.types import Endpoint

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
    """Return the delay in seconds that a `Retry-After` header requests.

    The header contains either delta seconds or an HTTP date. Returns None for a
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
    or the delay that `Retry-After` requests when the server sent one, capped at
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


@dataclass(frozen=True)
class Failure:
    """A failed attempt: the error to raise and whether to try again."""

    error: SeerError
    outcome: Outcome
    retryable: bool
    retry_after_seconds: float | None = None


def transport_failure(
    endpoint: Endpoint, error: httpx.RequestError, attempt: int, base_url: str
) -> Failure:
    """Classify an attempt that got no response: retry unless the URL is unusable."""
    if isinstance(error, httpx.UnsupportedProtocol):
        misconfigured = SeerMisconfigured(
            f"Invalid Seer URL {base_url!r}: {error}",
            endpoint=endpoint.path,
            attempts=attempt,
        )
        return Failure(misconfigured, "misconfigured", retryable=False)
    timed_out = isinstance(error, httpx.TimeoutException)
    kind = "timed out" if timed_out else "failed"
    unavailable = SeerUnavailable(
        f"Seer {endpoint.method} {endpoint.path} {kind}: "
        f"{type(error).__name__}: {error}",
        endpoint=endpoint.path,
        attempts=attempt,
    )
    outcome: Outcome = "timeout" if timed_out else "connection_error"
    return Failure(unavailable, outcome, retryable=True)


def status_failure(
    endpoint: Endpoint, response: httpx.Response, attempt: int
) -> Failure:
    """Classify a non-2xx response: retryable, misconfigured or rejected."""
    status = response.status_code
    body_excerpt = excerpt(response.content)
    message = (
        f"Seer {endpoint.method} {endpoint.path} returned HTTP {status}: {body_excerpt}"
    )

    def build(error_type: type[SeerError], text: str) -> SeerError:
        return error_type(
            text,
            endpoint=endpoint.path,
            status_code=status,
            body_excerpt=body_excerpt,
            attempts=attempt,
        )

    if is_retryable_status(status):
        return Failure(
            build(SeerUnavailable, message),
            "retryable_status",
            retryable=True,
            retry_after_seconds=parse_retry_after(response.headers.get("retry-after")),
        )
    if status in MISCONFIGURED_STATUSES or 300 <= status < 400:
        hint = f"{message}. Check the Seer URL and the shared secret."
        return Failure(build(SeerMisconfigured, hint), "misconfigured", retryable=False)
    return Failure(build(SeerRejected, message), "rejected", retryable=False)
