"""Turn one raw event value into what the database stores, or a rejection.

`prepare_event` is a pure function of picklable arguments, so it can run in
worker processes. Steps: check the shape, settle the event id, shift the
timestamp (optional), normalise with Relay, compute the grouping hashes
(unless the event carries stored ones), summarise for the group, and compress
the payload for the node store.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from consumers.grouping import (
    Enhancements,
    GroupingError,
    calculate_grouping,
    normalize_event,
)
from consumers.ingest.metadata import GroupSummary, summarize

logger = logging.getLogger(__name__)

_HASH = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class PreparedEvent:
    """A valid event, ready to write.

    `event_id` is 32 lowercase hex digits. `hashes` are the grouping hashes
    with the primary hash first. `payload` is the zlib-compressed JSON of the
    normalised event, which carries the same `hashes`.
    """

    index: int
    event_id: str
    timestamp: datetime
    hashes: tuple[str, ...]
    platform: str | None
    summary: GroupSummary
    payload: bytes


@dataclass(frozen=True)
class InvalidEvent:
    """An event (or a whole file, when `index` is None) that was not loaded."""

    source: str
    index: int | None
    reason: str

    def location(self) -> str:
        return self.source if self.index is None else f"{self.source}[{self.index}]"


class _Rejected(Exception):
    """Internal: the event is invalid; the message is the reason."""


def content_event_id(event: Mapping[str, Any]) -> str:
    """Derive an event id from the event's canonical JSON (md5, as a UUID4 hex).

    The same content always gets the same id, so re-ingesting a file whose
    events lack ids stays idempotent.
    """
    canonical = json.dumps(
        event, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    digest = hashlib.md5(canonical.encode("utf-8")).hexdigest()
    return uuid.UUID(hex=digest, version=4).hex


def _event_id(event: Mapping[str, Any]) -> str:
    value = event.get("event_id")
    if value is None:
        return content_event_id(event)
    if isinstance(value, str):
        try:
            return uuid.UUID(value).hex
        except ValueError:
            pass
    raise _Rejected(f"invalid event_id {value!r}: expected 32 hex digits or a UUID")


def _stored_hashes(event: Mapping[str, Any]) -> tuple[str, ...] | None:
    value = event.get("hashes")
    if value is None or value == []:
        return None
    if not isinstance(value, list) or not all(isinstance(h, str) for h in value):
        raise _Rejected(
            f"invalid hashes {value!r}: expected a list of 32-digit hex strings"
        )
    hashes = tuple(h.lower() for h in value)
    for stored in hashes:
        if not _HASH.match(stored):
            raise _Rejected(f"invalid hash {stored!r}: expected 32 hex digits")
    return hashes


def parse_timestamp(value: object) -> datetime | None:
    """Parse an event timestamp: epoch seconds (number or numeric string) or
    ISO 8601 (naive means UTC). Returns None for anything else."""
    if isinstance(value, bool):
        return None
    seconds: object = value
    if isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return None
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(seconds, int | float):
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _shift(event: dict[str, Any], offset: timedelta) -> None:
    # An event without a readable timestamp gets Relay's receive time (now),
    # which must not be shifted.
    timestamp = parse_timestamp(event.get("timestamp"))
    if timestamp is not None:
        event["timestamp"] = (timestamp + offset).timestamp()


def _normalize(event: dict[str, Any], project_id: int) -> dict[str, Any]:
    try:
        return normalize_event(event, project_id=project_id)
    except GroupingError as error:
        # The message already states that the normaliser rejected the event.
        raise _Rejected(str(error)) from error


def _compute_hashes(
    event: Mapping[str, Any], enhancements: Enhancements | None
) -> tuple[str, ...]:
    try:
        result = calculate_grouping(event, enhancements=enhancements)
    except GroupingError as error:
        raise _Rejected(f"grouping failed: {error}") from error
    except Exception as error:
        # A bug in the grouping code must not stop a long ingest; the event
        # is reported invalid and the traceback logged.
        logger.exception("grouping crashed on event %s", event.get("event_id"))
        raise _Rejected(f"grouping failed: {type(error).__name__}: {error}") from error
    if not result.hashes:
        raise _Rejected("grouping produced no hash")
    return tuple(result.hashes)


def _timestamp(event: Mapping[str, Any]) -> datetime:
    value = event.get("timestamp")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    raise _Rejected(f"normalised event has no numeric timestamp (got {value!r})")


def _prepare(
    value: object,
    index: int,
    project_id: int,
    time_offset: timedelta | None,
    enhancements: Enhancements | None,
) -> PreparedEvent:
    if not isinstance(value, dict):
        raise _Rejected(f"not a JSON object (got {type(value).__name__})")
    event_id = _event_id(value)
    stored = _stored_hashes(value)
    raw = dict(value)
    raw["event_id"] = event_id
    if time_offset is not None:
        _shift(raw, time_offset)
    normalized = _normalize(raw, project_id)
    hashes = stored if stored is not None else _compute_hashes(normalized, enhancements)
    normalized["event_id"] = event_id
    normalized["hashes"] = list(hashes)
    payload = json.dumps(normalized, separators=(",", ":"), ensure_ascii=False)
    platform = normalized.get("platform")
    return PreparedEvent(
        index=index,
        event_id=event_id,
        timestamp=_timestamp(normalized),
        hashes=hashes,
        platform=platform if isinstance(platform, str) else None,
        summary=summarize(normalized),
        payload=zlib.compress(payload.encode("utf-8")),
    )


def prepare_event(
    value: object,
    *,
    source: str,
    index: int,
    project_id: int,
    time_offset: timedelta | None = None,
    enhancements: Enhancements | None = None,
) -> PreparedEvent | InvalidEvent:
    """Prepare one event value read from `source` at position `index`.

    Returns an `InvalidEvent` with the reason instead of raising when the
    value is not an object, has an invalid `event_id` or `hashes`, Relay
    rejects it or grouping fails. An event without `event_id` gets one
    derived from its content. Stored `hashes` are kept; otherwise they are
    computed.
    """
    try:
        return _prepare(value, index, project_id, time_offset, enhancements)
    except _Rejected as rejection:
        return InvalidEvent(source, index, str(rejection))
