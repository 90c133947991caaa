"""Seer's request signature: an HMAC-SHA256 of the raw body.

Sentry sends `Authorization: Rpcsignature rpc0:<hex digest>` where the digest
is HMAC-SHA256 keyed with the shared secret over the exact body bytes. A
signature is only valid for the bytes it was computed on, so callers sign the
encoded body they send, never a re-serialised copy.
"""

from __future__ import annotations

import hashlib
import hmac

AUTHORIZATION_HEADER = "Authorization"
SCHEME = "Rpcsignature"
VERSION_PREFIX = "rpc0:"


def signature(secret: str, body: bytes) -> str:
    """Return the hex HMAC-SHA256 of `body` keyed with `secret` (UTF-8)."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def authorization_value(secret: str, body: bytes) -> str:
    """Return the `Authorization` header value that signs `body`."""
    return f"{SCHEME} {VERSION_PREFIX}{signature(secret, body)}"


def verify_authorization(secret: str, body: bytes, header: str | None) -> bool:
    """Check an `Authorization` header against `body`, in constant time.

    Returns False for a missing header, another scheme, another version
    prefix or a digest that does not match.
    """
    if not header:
        return False
    scheme, _, credentials = header.partition(" ")
    if scheme != SCHEME or not credentials.startswith(VERSION_PREFIX):
        return False
    received = credentials[len(VERSION_PREFIX) :].strip()
    expected = signature(secret, body)
    return hmac.compare_digest(expected.encode("ascii"), received.encode("utf-8"))
