"""A thread-safe HTTP client for Seer's similarity endpoints.

One `SeerClient` is shared by every thread and partition of a consumer: its
connection pool, rate limiter and concurrency limit are per client, so the
limits hold for the whole process. Each call sends one logical request and
retries it (bounded, with jittered exponential backoff) on timeouts,
connection errors, 5xx, 408 and 429. See `consumers.seer.errors` for what
each failure raises and what the caller should do with it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import httpx

from consumers.log_throttle import LogThrottle
from consumers.seer import types
from consumers.seer.errors import SeerInvalidResponse, SeerRejected, SeerUnavailable
from consumers.seer.limiter import ConcurrencyLimiter, RateLimiter
from consumers.seer.observer import Outcome, RequestObserver, RequestSample
from consumers.seer.responses import (
    parse_grouping_records_response,
    parse_similar_issues_response,
    parse_success_response,
)
from consumers.seer.retry import (
    Backoff,
    Failure,
    RetryPolicy,
    status_failure,
    transport_failure,
)
from consumers.seer.signing import AUTHORIZATION_HEADER, authorization_value

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/json;charset=utf-8"

T = TypeVar("T")


@dataclass(frozen=True)
class SeerClientConfig:
    """Settings of a `SeerClient`. Every duration is in seconds.

    `timeout_seconds` bounds each read, write and wait for a pooled
    connection of one attempt; `connect_timeout_seconds` bounds opening a
    connection. `max_requests_per_second` (None: unlimited) and
    `max_concurrency` hold across all threads using the client, and count
    retries as requests. `secret` signs every request when set; it is
    excluded from `repr` so it never reaches a log line.
    """

    base_url: str
    secret: str | None = field(default=None, repr=False)
    timeout_seconds: float = 30.0
    connect_timeout_seconds: float = 5.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_requests_per_second: float | None = None
    rate_burst: int = 1
    max_concurrency: int = 8

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(
                f"Invalid Seer URL {self.base_url!r}: it must start with "
                "http:// or https://."
            )
        if self.timeout_seconds <= 0 or self.connect_timeout_seconds <= 0:
            raise ValueError("Invalid Seer timeout: seconds must be > 0.")


class SeerClient:
    """Calls Seer's grouping-record, delete and similar-issues endpoints.

    Safe to share between threads. Close it (or use it as a context manager)
    to release connections; `close` also wakes threads sleeping between
    retries, which then raise `SeerUnavailable`. Warnings about retried
    attempts, and the error of a request out of attempts, go through
    `retry_log`: one line per endpoint and failure kind per interval,
    because during an outage every in-flight request retries.
    """

    def __init__(
        self,
        config: SeerClientConfig,
        *,
        observer: RequestObserver | None = None,
        backoff_seed: int | None = None,
        retry_log: LogThrottle | None = None,
    ) -> None:
        self.config = config
        self._observer = observer
        self._retry_log = LogThrottle() if retry_log is None else retry_log
        self._backoff = Backoff(config.retry, seed=backoff_seed)
        self._concurrency = ConcurrencyLimiter(config.max_concurrency)
        self._rate: RateLimiter | None = None
        if config.max_requests_per_second is not None:
            self._rate = RateLimiter(config.max_requests_per_second, config.rate_burst)
        self._closed = threading.Event()
        self._http = httpx.Client(
            base_url=config.base_url,
            timeout=httpx.Timeout(
                config.timeout_seconds, connect=config.connect_timeout_seconds
            ),
            limits=httpx.Limits(
                max_connections=config.max_concurrency,
                max_keepalive_connections=config.max_concurrency,
            ),
        )

    def __enter__(self) -> SeerClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        self._http.close()

    def post_grouping_records(
        self, records: Sequence[types.GroupingRecord], use_reranking: bool = False
    ) -> types.GroupingRecordsResponse:
        """Store grouping records; return the groups Seer matched to a neighbour.

        Sends nothing for an empty sequence. Safe to replay: Seer keeps one
        record per (project id, hash). Raises `SeerRejected` on a permanent
        4xx or `success: false`, `SeerUnavailable` (or a subclass) otherwise.
        """
        if not records:
            return types.GroupingRecordsResponse(groups_with_neighbor={})
        payload: types.GroupingRecordsRequestJson = {
            "group_id_list": [record.group_id for record in records],
            "data": [
                {
                    "group_id": record.group_id,
                    "hash": record.hash,
                    "project_id": record.project_id,
                    "exception_type": record.exception_type,
                }
                for record in records
            ],
            "stacktrace_list": [record.stacktrace for record in records],
            "use_reranking": use_reranking,
        }
        endpoint = types.GROUPING_RECORDS
        project_ids = sorted({record.project_id for record in records})
        group_ids = {record.group_id for record in records}

        def parse(body: bytes, attempts: int) -> types.GroupingRecordsResponse:
            return parse_grouping_records_response(
                body, group_ids=group_ids, endpoint=endpoint.path, attempts=attempts
            )

        context = f"project_ids={project_ids} groups={len(records)}"
        return self._send(endpoint, _encode(payload), context, parse)

    def delete_project_records(self, project_id: int) -> None:
        """Delete every record of a project. Idempotent."""
        endpoint = types.delete_project_endpoint(project_id)

        def parse(body: bytes, attempts: int) -> None:
            parse_success_response(body, endpoint=endpoint.path, attempts=attempts)

        self._send(endpoint, b"", f"project_id={project_id}", parse)

    def delete_records_by_hash(self, project_id: int, hashes: Sequence[str]) -> None:
        """Delete a project's records with the given hashes. Idempotent.

        Sends nothing for an empty sequence.
        """
        if not hashes:
            return
        payload: types.DeleteByHashRequestJson = {
            "project_id": project_id,
            "hash_list": list(hashes),
        }
        endpoint = types.DELETE_BY_HASH

        def parse(body: bytes, attempts: int) -> None:
            parse_success_response(body, endpoint=endpoint.path, attempts=attempts)

        context = f"project_id={project_id} hashes={len(hashes)}"
        self._send(endpoint, _encode(payload), context, parse)

    def similar_issues(
        self,
        *,
        project_id: int,
        stacktrace: str,
        hash: str,
        exception_type: str | None = None,
        k: int = 1,
        threshold: float = types.GROUPING_DISTANCE,
        read_only: bool = False,
        use_reranking: bool = False,
    ) -> list[types.SimilarIssue]:
        """Return up to `k` stored records near `stacktrace`, nearest first.

        Unless `read_only`, Seer also stores the stacktrace as a new record
        when none lies within `threshold`. That insert is keyed by
        (project id, hash), so a replay is a no-op.
        """
        payload: types.SimilarIssuesRequestJson = {
            "project_id": project_id,
            "stacktrace": stacktrace,
            "hash": hash,
            "exception_type": exception_type,
            "k": k,
            "threshold": threshold,
            "read_only": read_only,
            "use_reranking": use_reranking,
        }
        endpoint = types.SIMILAR_ISSUES

        def parse(body: bytes, attempts: int) -> list[types.SimilarIssue]:
            return parse_similar_issues_response(
                body, endpoint=endpoint.path, attempts=attempts
            )

        context = f"project_id={project_id} hash={hash}"
        return self._send(endpoint, _encode(payload), context, parse)

    def _headers(self, body: bytes) -> dict[str, str]:
        headers = {"content-type": CONTENT_TYPE}
        if self.config.secret:
            headers[AUTHORIZATION_HEADER] = authorization_value(
                self.config.secret, body
            )
        return headers

    def _send(
        self,
        endpoint: types.Endpoint,
        body: bytes,
        context: str,
        parse: Callable[[bytes, int], T],
    ) -> T:
        """Send one request with retries; return the parsed 2xx body.

        `context` names the ids involved, for log lines and error messages.
        """
        headers = self._headers(body)
        max_attempts = self.config.retry.max_attempts
        for attempt in range(1, max_attempts + 1):
            if self._closed.is_set():
                raise SeerUnavailable(
                    f"Seer client is closed; {endpoint.path} was not sent ({context}).",
                    endpoint=endpoint.path,
                    attempts=attempt - 1,
                )
            result = self._attempt(endpoint, body, headers, attempt, parse)
            if not isinstance(result, Failure):
                return result
            if not result.retryable:
                logger.error("Seer request failed (%s): %s", context, result.error)
                raise result.error
            if attempt == max_attempts:
                # The caller gets the error and may retry the request again
                # (the Seer stage does through an outage), so this line is
                # throttled like the warnings.
                self._retry_log.log(
                    logger,
                    logging.ERROR,
                    (endpoint.name, "exhausted"),
                    "Seer request failed after %d attempts (%s): %s",
                    attempt,
                    context,
                    result.error,
                )
                raise result.error
            delay = self._backoff.delay_seconds(attempt, result.retry_after_seconds)
            self._retry_log.log(
                logger,
                logging.WARNING,
                (endpoint.name, result.outcome),
                "Seer request attempt %d/%d failed (%s): %s; retrying in %.2f s",
                attempt,
                max_attempts,
                context,
                result.error,
                delay,
            )
            if self._closed.wait(delay):
                raise SeerUnavailable(
                    f"Seer client closed while retrying {endpoint.path} ({context}).",
                    endpoint=endpoint.path,
                    attempts=attempt,
                ) from result.error
        raise AssertionError("unreachable: the retry loop always returns or raises")

    def _attempt(
        self,
        endpoint: types.Endpoint,
        body: bytes,
        headers: dict[str, str],
        attempt: int,
        parse: Callable[[bytes, int], T],
    ) -> T | Failure:
        """Send one HTTP request; return the parsed body or the failure."""
        throttle_start = time.monotonic()
        with self._concurrency.slot():
            if self._rate is not None:
                self._rate.acquire()
            start = time.monotonic()
            try:
                response = self._http.request(
                    endpoint.method,
                    endpoint.path,
                    content=body or None,
                    headers=headers,
                )
                failure = None
            except httpx.RequestError as error:
                base_url = self.config.base_url
                failure = transport_failure(endpoint, error, attempt, base_url)
            except RuntimeError as error:
                # httpx raises RuntimeError for a request on a closed client.
                if not self._closed.is_set():
                    raise
                closed = SeerUnavailable(
                    f"Seer client closed during {endpoint.path}: {error}",
                    endpoint=endpoint.path,
                    attempts=attempt,
                )
                failure = Failure(closed, "connection_error", retryable=False)
            end = time.monotonic()

        def observe(outcome: Outcome, status_code: int | None) -> None:
            self._observe(
                RequestSample(
                    endpoint=endpoint.name,
                    outcome=outcome,
                    status_code=status_code,
                    latency_seconds=end - start,
                    throttle_seconds=start - throttle_start,
                    attempt=attempt,
                )
            )

        if failure is not None:
            observe(failure.outcome, None)
            return failure
        status = response.status_code
        if not 200 <= status < 300:
            failure = status_failure(endpoint, response, attempt)
            observe(failure.outcome, status)
            return failure
        try:
            result = parse(response.content, attempt)
        except SeerRejected as error:
            observe("rejected", status)
            return Failure(error, "rejected", retryable=False)
        except SeerInvalidResponse as error:
            observe("invalid_response", status)
            return Failure(error, "invalid_response", retryable=False)
        observe("success", status)
        return result

    def _observe(self, sample: RequestSample) -> None:
        if self._observer is None:
            return
        try:
            self._observer.record_request(sample)
        except Exception:
            logger.exception("Seer request observer failed on %s", sample)


def _encode(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
