"""Errors raised by `SeerClient`.

    SeerError                 base: carries endpoint, status code, body excerpt
    +-- SeerUnavailable       transient: retries exhausted on timeouts,
    |   |                     connection errors, 5xx or 429. Back off and stop
    |   |                     without committing; the same request may succeed later.
    |   +-- SeerMisconfigured 401, 403, 404 or 405: the URL or the shared secret
    |   |                     is wrong. No retries; every request would fail the
    |   |                     same way, so the message is not at fault.
    |   +-- SeerInvalidResponse  a 2xx body that is not the API's JSON shape
    |                         (usually another service at the URL). No retries.
    +-- SeerRejected          permanent for this request: another 4xx, or a 2xx
                              with `success: false`. Send the message to the DLQ.

Every Seer endpoint the client calls is safe to replay: inserts are keyed by
(project id, hash) and deletes are idempotent.
"""

from __future__ import annotations

BODY_EXCERPT_CHARS = 500


def excerpt(body: bytes | str, limit: int = BODY_EXCERPT_CHARS) -> str:
    """Return the start of a response body as text, for error messages."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if len(text) <= limit:
        return text
    return text[:limit] + "..."


class SeerError(Exception):
    """A Seer request that did not succeed.

    `endpoint` is the request path, `status_code` the last HTTP status (None
    when no response arrived), `body_excerpt` the start of the last response
    body and `attempts` the number of requests sent.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str,
        status_code: int | None = None,
        body_excerpt: str = "",
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status_code = status_code
        self.body_excerpt = body_excerpt
        self.attempts = attempts


class SeerUnavailable(SeerError):
    """Seer returned no usable response; retry the whole unit of work later."""


class SeerMisconfigured(SeerUnavailable):
    """Seer rejected the client itself: fix the Seer URL or shared secret."""


class SeerInvalidResponse(SeerUnavailable):
    """A success status whose body does not match Seer's API."""


class SeerRejected(SeerError):
    """Seer rejected this request for good; retrying it cannot succeed."""
