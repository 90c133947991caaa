"""Node store addressing and payload encoding, as Sentry's nodestore does it."""

from __future__ import annotations

import hashlib
import json
import uuid
import zlib
from typing import Any


def node_id(project_id: int, event_id: str) -> str:
    """Return the node id of an event: md5 hex of "{project_id}:{event_id}".

    `event_id` is written as 32 lowercase hex digits without dashes, the form
    Sentry uses, whatever form the caller passes. Raises `ValueError` for a
    value that is not a UUID.
    """
    canonical = uuid.UUID(event_id).hex
    return hashlib.md5(f"{project_id}:{canonical}".encode()).hexdigest()


def decode_payload(data: bytes) -> dict[str, Any]:
    """Decompress and decode a node's data into the event dict.

    Raises `zlib.error` or `ValueError` for data that is not zlib-compressed
    JSON, and `ValueError` when the JSON is not an object.
    """
    value = json.loads(zlib.decompress(data))
    if not isinstance(value, dict):
        raise ValueError(
            f"node payload is a JSON {type(value).__name__}, expected an object"
        )
    return value
