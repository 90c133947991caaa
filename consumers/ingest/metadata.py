"""Derive a group's title, culprit and metadata from a normalised event.

Follows the shape Sentry stores in `groups.data` for error and default
events: `metadata` has `type`, `value`, `filename`, `function` (errors) or
`title` (default events). Titles take the first line of the value,
truncated to `TITLE_LENGTH` characters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TITLE_LENGTH = 100
VALUE_LENGTH = 1024
UNLABELED = "<unlabeled event>"


@dataclass(frozen=True)
class GroupSummary:
    """Title, culprit and metadata of a group.

    `type` is Sentry's event type of the source event: "error" or "default".
    """

    type: str
    title: str
    culprit: str
    metadata: dict[str, Any]

    @property
    def message(self) -> str:
        """Search text of the group: title and culprit."""
        return " ".join(part for part in (self.title, self.culprit) if part)

    def data(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "title": self.title,
            "culprit": self.culprit,
            "metadata": self.metadata,
        }


def _truncate(text: str, length: int) -> str:
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    if len(first_line) <= length:
        return first_line
    return first_line[: length - 3] + "..."


def _main_exception(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    exception = event.get("exception")
    values = exception.get("values") if isinstance(exception, Mapping) else None
    if not isinstance(values, list):
        return None
    candidates: list[Mapping[str, Any]] = [
        value for value in values if isinstance(value, Mapping)
    ]
    return candidates[-1] if candidates else None


def _frames(container: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    stacktrace = container.get("stacktrace") if container else None
    frames = stacktrace.get("frames") if isinstance(stacktrace, Mapping) else None
    if not isinstance(frames, list):
        return []
    return [frame for frame in frames if isinstance(frame, Mapping)]


def _top_frame(frames: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """Return the most recent in-app frame, else the most recent frame."""
    in_app = [frame for frame in frames if frame.get("in_app") is True]
    if in_app:
        return in_app[-1]
    return frames[-1] if frames else None


def _message(event: Mapping[str, Any]) -> str:
    logentry = event.get("logentry")
    if isinstance(logentry, Mapping):
        for key in ("formatted", "message"):
            if isinstance(logentry.get(key), str) and logentry[key].strip():
                return str(logentry[key])
    message = event.get("message")
    return message if isinstance(message, str) else ""


def _culprit(event: Mapping[str, Any], frame: Mapping[str, Any] | None) -> str:
    for key in ("culprit", "transaction"):
        value = event.get(key)
        if isinstance(value, str) and value:
            return _truncate(value, 200)
    if frame is None:
        return ""
    location = frame.get("module") or frame.get("filename")
    function = frame.get("function")
    if location and function:
        return f"{location} in {function}"
    return str(location or function or "")


def summarize(event: Mapping[str, Any]) -> GroupSummary:
    """Build the summary of a normalised event."""
    exception = _main_exception(event)
    if exception is None:
        frame = _top_frame(_frames(event))
        title = _truncate(_message(event), TITLE_LENGTH) or UNLABELED
        return GroupSummary("default", title, _culprit(event, frame), {"title": title})

    frame = _top_frame(_frames(exception))
    exception_type = str(exception.get("type") or "Error")
    value = exception.get("value")
    value_text = value if isinstance(value, str) else ""
    metadata: dict[str, Any] = {
        "type": exception_type,
        "value": value_text[:VALUE_LENGTH],
    }
    if frame is not None:
        for key in ("filename", "function"):
            if isinstance(frame.get(key), str):
                metadata[key] = frame[key]
    short_value = _truncate(value_text, TITLE_LENGTH)
    title = f"{exception_type}: {short_value}" if short_value else exception_type
    return GroupSummary("error", title, _culprit(event, frame), metadata)
