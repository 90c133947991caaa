"""Facts about an event that decide whether Seer can use it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consumers.grouping.frames import is_mapping


def _last(event: Mapping[str, Any], interface: str) -> Mapping[str, Any]:
    container = event.get(interface)
    values = container.get("values") if is_mapping(container) else None
    if isinstance(values, list) and values and is_mapping(values[-1]):
        return values[-1]
    return {}


def _has_frames(stacktrace: object) -> bool:
    return is_mapping(stacktrace) and bool(stacktrace.get("frames"))


def get_exception_type(event: Mapping[str, Any]) -> str | None:
    """Return the type of the event's last exception with NUL bytes removed, or None."""
    exception_type = _last(event, "exception").get("type")
    if not isinstance(exception_type, str):
        return None
    return exception_type.replace("\x00", "")


def has_stacktrace(event: Mapping[str, Any]) -> bool:
    """Return whether the last exception, the last thread or the event has frames."""
    return (
        _has_frames(_last(event, "exception").get("stacktrace"))
        or _has_frames(_last(event, "threads").get("stacktrace"))
        or _has_frames(event.get("stacktrace"))
    )
