"""Seer's similarity API: the HTTP client and its errors and records.

The Seer-compatible local service lives in `consumers.seer.service`.
"""

from consumers.seer.client import SeerClient, SeerClientConfig
from consumers.seer.errors import (
    SeerError,
    SeerInvalidResponse,
    SeerMisconfigured,
    SeerRejected,
    SeerUnavailable,
)
from consumers.seer.limiter import ConcurrencyLimiter, RateLimiter
from consumers.seer.observer import Outcome, RequestObserver, RequestSample
from consumers.seer.retry import RetryPolicy
from consumers.seer.types import (
    GroupingRecord,
    GroupingRecordsResponse,
    SimilarIssue,
)

__all__ = [
    "ConcurrencyLimiter",
    "GroupingRecord",
    "GroupingRecordsResponse",
    "Outcome",
    "RateLimiter",
    "RequestObserver",
    "RequestSample",
    "RetryPolicy",
    "SeerClient",
    "SeerClientConfig",
    "SeerError",
    "SeerInvalidResponse",
    "SeerMisconfigured",
    "SeerRejected",
    "SeerUnavailable",
    "SimilarIssue",
]
