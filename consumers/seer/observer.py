"""The hook through which `SeerClient` reports every HTTP attempt.

Metrics live outside the client: pass any object with a `record_request`
method (a Prometheus adapter, a test recorder). The client calls it once per
attempt, from the thread that made the request, and logs and ignores any
exception the observer raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Outcome = Literal[
    "success",  # 2xx with a valid body
    "rejected",  # permanent 4xx or `success: false`
    "misconfigured",  # 401, 403, 404 or 405
    "retryable_status",  # 5xx, 408 or 429
    "timeout",  # connect, read, write or pool timeout
    "connection_error",  # refused, reset or a protocol error
    "invalid_response",  # 2xx whose body does not match the API
]


@dataclass(frozen=True)
class RequestSample:
    """One HTTP attempt.

    `endpoint` is a fixed name ("grouping_records", "delete_project",
    "delete_by_hash", "similar_issues"), never a path with ids in it.
    `status_code` is None when no response arrived. `latency_seconds` covers
    the HTTP exchange only; `throttle_seconds` is the time spent waiting for
    the rate limiter and a concurrency slot before it. `attempt` counts from 1.
    """

    endpoint: str
    outcome: Outcome
    status_code: int | None
    latency_seconds: float
    throttle_seconds: float
    attempt: int


class RequestObserver(Protocol):
    def record_request(self, sample: RequestSample) -> None: ...
