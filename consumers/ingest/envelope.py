"""Parse Sentry envelopes: the framing the SDKs use to send events.

An envelope is a header line (a JSON object), then items. Each item is a
header line (a JSON object with `type`) and a payload: exactly `length`
bytes when the header has `length` (then an optional newline), otherwise
the bytes up to the next newline or the end of the data. Like Relay, the
parser rejects the whole envelope when its framing is broken, because the
items after a broken header cannot be located.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class EnvelopeError(ValueError):
    """The data is not a well-formed envelope; the message names the part."""


@dataclass(frozen=True)
class EnvelopeItem:
    index: int
    type: str
    headers: dict[str, Any]
    payload: bytes


@dataclass(frozen=True)
class Envelope:
    headers: dict[str, Any]
    items: tuple[EnvelopeItem, ...]


def _read_line(data: bytes, start: int) -> tuple[bytes, int]:
    """Return the bytes up to the next newline and the offset after it."""
    end = data.find(b"\n", start)
    if end < 0:
        return data[start:], len(data)
    return data[start:end], end + 1


def _json_object(line: bytes, part: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except (ValueError, RecursionError) as error:
        raise EnvelopeError(f"{part} is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise EnvelopeError(f"{part} must be a JSON object, got {type(value).__name__}")
    return value


def _payload_length(headers: dict[str, Any], index: int) -> int | None:
    length = headers.get("length")
    if length is None:
        return None
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise EnvelopeError(
            f"item {index} has invalid length {length!r}: expected an integer >= 0"
        )
    return length


def parse_envelope(data: bytes) -> Envelope:
    """Split `data` into the envelope header and its items.

    Raises `EnvelopeError` for a header that is not a JSON object, an item
    without a string `type`, a negative or non-integer `length`, or a payload
    that runs past the end of the data.
    """
    line, position = _read_line(data, 0)
    headers = _json_object(line, "envelope header")
    items: list[EnvelopeItem] = []
    while position < len(data):
        if data[position : position + 1] == b"\n":
            position += 1
            continue
        index = len(items)
        line, position = _read_line(data, position)
        item_headers = _json_object(line, f"header of item {index}")
        item_type = item_headers.get("type")
        if not isinstance(item_type, str):
            raise EnvelopeError(f"item {index} has no string 'type' in its header")
        length = _payload_length(item_headers, index)
        if length is None:
            payload, position = _read_line(data, position)
        else:
            end = position + length
            if end > len(data):
                raise EnvelopeError(
                    f"item {index} declares {length} payload bytes, "
                    f"but only {len(data) - position} remain"
                )
            payload, position = data[position:end], end
            if position < len(data) and data[position : position + 1] != b"\n":
                raise EnvelopeError(
                    f"item {index}: expected a newline after its {length} bytes"
                )
            position += 1
        items.append(EnvelopeItem(index, item_type, item_headers, payload))
    return Envelope(headers, tuple(items))


def looks_like_envelope(data: bytes) -> bool:
    """Check whether the first two lines are JSON objects, the second with a `type`."""
    first, position = _read_line(data, 0)
    second, _ = _read_line(data, position)
    try:
        header = json.loads(first)
        item_header = json.loads(second)
    except (ValueError, RecursionError):
        return False
    return (
        isinstance(header, dict)
        and isinstance(item_header, dict)
        and "type" in item_header
    )
