"""Evaluation of fingerprint rule matchers against an event.

A matcher is ``key:glob`` (``!`` negates): ``type``, ``value`` and
``message`` read the exceptions and the log entry, ``family`` the platforms,
``app``, ``function``, ``module``, ``path`` and ``package`` every frame, and
``level``, ``logger``, ``release``, ``transaction``, ``sdk`` and ``tags.*``
the event's own fields. The readers here accept any shape: a missing or
mistyped value reads as absent.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sentry_ophio.glob import is_glob_match

from consumers.grouping.frames import is_mapping
from consumers.grouping.platforms import behavior_family

_FRAME_KEYS = frozenset({"family", "app", "function", "module", "path", "package"})


def matcher_cost(key: str) -> int:
    # Matchers have no side effects, so their order changes only the cost.
    # The family usually follows from the event's platform alone and rejects
    # most events at once, so it goes first.
    key = key.lstrip("!")
    if key == "family":
        return 0
    if key in ("type", "value", "message"):
        return 1
    if key in _FRAME_KEYS:
        return 3
    return 2


class EventFacts:
    """The parts of an event that fingerprint matchers read, collected once.

    Each part is computed on first use: most events are rejected by a rule's
    family before any other part is needed.
    """

    __slots__ = ("_exceptions", "_families", "_frames", "_messages", "event")

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.event = event
        self._exceptions: list[Mapping[str, Any]] | None = None
        self._frames: list[Mapping[str, Any]] | None = None
        self._families: set[str] | None = None
        self._messages: list[str] | None = None

    @property
    def exceptions(self) -> list[Mapping[str, Any]]:
        if self._exceptions is None:
            self._exceptions = _exceptions(self.event)
        return self._exceptions

    @property
    def frames(self) -> list[Mapping[str, Any]]:
        if self._frames is None:
            self._frames = list(_frames(self.event))
        return self._frames

    @property
    def families(self) -> set[str]:
        if self._families is None:
            platforms = {self.event.get("platform")}
            for stacktrace in _stacktraces(self.event):
                frames = stacktrace.get("frames")
                if isinstance(frames, list):
                    platforms.update(_frame_platforms(frames))
            self._families = {
                behavior_family(p) for p in platforms if isinstance(p, str) and p
            }
        return self._families

    @property
    def messages(self) -> list[str]:
        if self._messages is None:
            logentry = text_or_none(
                get_path(self.event, "logentry", "formatted")
            ) or text_or_none(get_path(self.event, "logentry", "message"))
            values = [
                text_or_none(exception.get("value")) for exception in self.exceptions
            ]
            self._messages = [
                message for message in [logentry, *values] if message is not None
            ]
        return self._messages


def matcher_holds(key: str, pattern: str, facts: EventFacts) -> bool:
    negated = key.startswith("!")
    key = key.lstrip("!")
    return _any_value_matches(key, pattern, facts) != negated


def _any_value_matches(key: str, pattern: str, facts: EventFacts) -> bool:
    event = facts.event
    if key == "family":
        return family_matches(pattern, facts)
    if key in ("type", "value"):
        return any(
            is_glob_match(value, pattern, case_insensitive=key == "value")
            for exception in facts.exceptions
            if (value := text_or_none(exception.get(key))) is not None
        )
    if key == "message":
        return any(
            is_glob_match(message, pattern, case_insensitive=True)
            for message in facts.messages
        )
    if key in ("level", "logger", "release", "transaction"):
        value = text_or_none(event.get(key))
        return value is not None and is_glob_match(
            value, pattern, case_insensitive=True
        )
    if key == "sdk":
        value = text_or_none(get_path(event, "sdk", "name"))
        return value is not None and is_glob_match(value, pattern)
    if key.startswith("tags."):
        tag = key[5:]
        return any(
            k == tag and v is not None and is_glob_match(v, pattern)
            for k, v in event_tags(event)
        )
    return any(_frame_matches(key, pattern, frame) for frame in facts.frames)


def _frame_platforms(frames: list[Any]) -> Iterable[Any]:
    """Return the ``platform`` value of every frame that is a mapping."""
    try:
        # Decoded JSON frames are dicts: mapping `dict.get` over them runs
        # in C, several times faster than a loop for stacks of threads.
        return list(map(dict.get, frames, itertools.repeat("platform")))
    except TypeError:  # a frame that is not a dict
        return [frame.get("platform") for frame in frames if is_mapping(frame)]


@functools.lru_cache(maxsize=256)
def _family_set(pattern: str) -> frozenset[str]:
    return frozenset(pattern.split(","))


def family_matches(pattern: str, facts: EventFacts) -> bool:
    families = _family_set(pattern)
    if "all" in families:
        return True
    platform = facts.event.get("platform")
    if behavior_family(platform if isinstance(platform, str) else None) in families:
        return True
    return not families.isdisjoint(facts.families)


def _frame_matches(key: str, pattern: str, frame: Mapping[str, Any]) -> bool:
    if key == "app":
        in_app = frame.get("in_app")
        return in_app is not None and bool(in_app) == (
            pattern.lower() in ("1", "yes", "true")
        )
    if key == "function":
        value = text_or_none(frame.get("function"))
        return value is not None and is_glob_match(value, pattern)
    if key == "module":
        value = text_or_none(frame.get("module"))
        return value is not None and is_glob_match(value, pattern, double_star=True)
    if key in ("path", "package"):
        fields = ("abs_path", "filename") if key == "path" else ("package",)
        for name in fields:
            value = text_or_none(frame.get(name))
            if value is None:
                continue
            for candidate in (
                value,
                "/" + value if not value.startswith("/") else value,
            ):
                if is_glob_match(
                    candidate,
                    pattern,
                    double_star=True,
                    case_insensitive=True,
                    path_normalize=True,
                ):
                    return True
    return False


def _exceptions(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    values = get_path(event, "exception", "values")
    return [v for v in values if is_mapping(v)] if isinstance(values, list) else []


def last_exception(event: Mapping[str, Any]) -> Mapping[str, Any]:
    exceptions = _exceptions(event)
    return exceptions[-1] if exceptions else {}


def _stacktraces(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    stacktraces = []
    for exception in _exceptions(event):
        stacktrace = exception.get("stacktrace")
        if is_mapping(stacktrace):
            stacktraces.append(stacktrace)
    stacktrace = event.get("stacktrace")
    if is_mapping(stacktrace):
        stacktraces.append(stacktrace)
    threads = get_path(event, "threads", "values")
    for thread in threads if isinstance(threads, list) else []:
        if is_mapping(thread):
            stacktrace = thread.get("stacktrace")
            if is_mapping(stacktrace):
                stacktraces.append(stacktrace)
    return stacktraces


def _frames(event: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for stacktrace in _stacktraces(event):
        frames = stacktrace.get("frames")
        if isinstance(frames, list):
            yield from (frame for frame in frames if is_mapping(frame))


def crash_frame(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return the latest in-app frame of the top stack trace, else its latest frame.

    The top stack trace is the last exception's, else the event's own, else
    that of the only thread.
    """
    frames = get_path(
        event, "exception", "values", -1, "stacktrace", "frames"
    ) or get_path(event, "stacktrace", "frames")
    if not frames:
        threads = get_path(event, "threads", "values")
        if isinstance(threads, list) and len(threads) == 1:
            frames = (
                get_path(threads[0], "stacktrace", "frames")
                if isinstance(threads[0], Mapping)
                else None
            )
    fallback: Mapping[str, Any] = {}
    for frame in reversed(frames if isinstance(frames, list) else []):
        if not isinstance(frame, Mapping):
            continue
        if frame.get("in_app"):
            return frame
        if not fallback:
            fallback = frame
    return fallback


def event_tags(event: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    tags = event.get("tags")
    items = (
        tags.items()
        if isinstance(tags, Mapping)
        else tags
        if isinstance(tags, list)
        else []
    )
    for item in items:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            yield str(item[0]), text_or_none(item[1])


def get_path(data: Mapping[str, Any], *path: str | int) -> Any:
    current: Any = data
    for key in path:
        if isinstance(key, int):
            if not isinstance(current, list) or not current:
                return None
            current = current[key]
        elif is_mapping(current):
            current = current.get(key)
        else:
            return None
    return current


def text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
