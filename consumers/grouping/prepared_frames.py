"""Frames prepared for grouping: cleaned values and the classifier rules' verdict.

Before components are built, each stack trace goes through the classifier
rules (in-app and category), as Sentry does when it saves an event. The event
itself is not modified: the results live in `PreparedFrame` objects.

What grouping reads of a frame depends on a dozen of its fields, and the same
frames recur across events (library code, shared application code), so the
cleaned values are computed once per distinct frame (`FrameFacts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from consumers.grouping.enhancements import Enhancements
from consumers.grouping.frame_children import FrameChildren, build_frame_children
from consumers.grouping.function_names import trim_function_name
from consumers.grouping.memo import GenerationalMemo
from consumers.grouping.platforms import (
    JAVASCRIPT_PLATFORMS,
    NATIVE_PLATFORMS,
    behavior_family,
)

ExceptionData = dict[str, bytes | None]

# Platform -> `behavior_family` as bytes, for platforms outside "other".
_FAMILY_BYTES: dict[str | None, bytes] = {
    platform: behavior_family(platform).encode()
    for platform in NATIVE_PLATFORMS | JAVASCRIPT_PLATFORMS
}
# Platforms whose function names `trim_function_name` changes.
_TRIMMED_PLATFORMS = NATIVE_PLATFORMS | {"csharp"}
# Distinct frames per generation of the memo, which holds up to two. An
# entry takes an estimated kilobyte, most of it the frame's strings.
REMEMBERED_FRAMES_PER_GENERATION = 4_096


class FrameFacts:
    """The values grouping reads of one frame, before the classifier rules.

    ``match`` is the frame as sentry-ophio's matchers read it (UTF-8 bytes),
    with ``orig_in_app`` left out (None), and ``match_key`` its values.
    Shared by every equal frame: never modify it.
    """

    __slots__ = (
        "category",
        "children",
        "client_in_app",
        "filename",
        "function",
        "in_app",
        "match",
        "match_key",
        "orig_in_app",
        "platform",
        "raw_function",
    )

    def __init__(self, raw: Mapping[str, Any], event_platform: str | None) -> None:
        get = raw.get
        platform = get("platform")
        if type(platform) is not str:
            platform = event_platform
        self.platform: str | None = platform

        # A stored event already went through the rules once: start from the
        # value the client sent, as Sentry does when it groups again.
        in_app = get("in_app")
        data = get("data")
        if isinstance(data, dict):
            stored_orig = data.get("orig_in_app")
            if stored_orig is not None:
                in_app = None if stored_orig == -1 else bool(stored_orig)
            client_in_app = data.get("client_in_app")
            category = data.get("category")
            sourcemap_used = data.get("sourcemap") is not None
        else:
            stored_orig = client_in_app = category = None
            sourcemap_used = False
        if type(in_app) is not bool:
            in_app = None
        self.in_app: bool | None = in_app
        # The value the client sent, before any rule changed it.
        self.client_in_app: bool | None = (
            in_app if in_app is not None else client_in_app
        )
        # Like Sentry, keep the first recorded original value (setdefault).
        self.orig_in_app: int | None = stored_orig if type(stored_orig) is int else None
        if type(category) is not str:
            category = None
        self.category: str | None = category

        function = get("function")
        has_raw_function = bool(function)
        if type(function) is not str:
            function = None
        raw_function = get("raw_function")
        if type(raw_function) is not str:
            raw_function = None
        if raw_function is None and function and platform in _TRIMMED_PLATFORMS:
            trimmed = trim_function_name(function, platform)
            if trimmed != function:
                raw_function, function = function, trimmed
        self.function = function
        self.raw_function = raw_function
        package = get("package")
        package = package.lower() if type(package) is str and package else None
        filename = get("filename")
        if type(filename) is not str:
            filename = None
        elif event_platform == "javascript" and "?" in filename:
            # Query strings in script URLs vary per deployment; Sentry drops them.
            query = urlsplit(filename).query
            if query:
                filename = filename.replace(f"?{query}", "")
        self.filename = filename
        abs_path = get("abs_path")
        if type(abs_path) is not str:
            abs_path = None
        path = abs_path or filename
        module = get("module")
        if type(module) is not str:
            module = None

        self.match: dict[str, Any] = {
            "category": None if category is None else category.encode(),
            "family": _FAMILY_BYTES.get(platform, b"other"),
            "function": None
            if function is None or function == "?"
            else function.encode(),
            "in_app": bool(in_app),
            "orig_in_app": None,
            "module": None if module is None else module.encode(),
            "package": None if package is None else package.encode(),
            "path": path.lower().encode() if path else None,
        }
        self.match_key = tuple(self.match.values())
        context_line = get("context_line")
        self.children: FrameChildren = build_frame_children(
            abs_path,
            module,
            filename,
            platform,
            context_line if type(context_line) is str else None,
            has_raw_function,
            function,
            raw_function,
            sourcemap_used,
        )


_remembered: GenerationalMemo[tuple[Any, ...], FrameFacts] = GenerationalMemo(
    REMEMBERED_FRAMES_PER_GENERATION
)
# The fields `FrameFacts` reads besides ``in_app`` and ``data``.
_TEXT_FIELDS = (
    "platform",
    "function",
    "raw_function",
    "package",
    "filename",
    "abs_path",
    "module",
    "context_line",
)


def clear_remembered_frames() -> None:
    """Forget the facts of every frame seen so far (they are recomputed)."""
    _remembered.clear()


def frame_facts(raw: dict[str, Any], event_platform: str | None) -> FrameFacts:
    """Return the `FrameFacts` of a frame, computed once per distinct frame."""
    get = raw.get
    in_app = get("in_app")
    data = get("data")
    data_key = None
    if isinstance(data, dict):
        orig = data.get("orig_in_app")
        client = data.get("client_in_app")
        # Types are part of the key because 1 == True, but only the bool
        # counts as a client's in_app, and only the int as an original value.
        data_key = (
            orig,
            type(orig),
            client,
            type(client),
            data.get("category"),
            data.get("sourcemap") is not None,
        )
    # Every other field reads as None unless it is a string, and no string
    # equals a value of another type, so equal keys mean equal facts.
    key = (
        event_platform,
        in_app if type(in_app) is bool else None,
        data_key,
        *map(get, _TEXT_FIELDS),
    )
    try:
        facts = _remembered.get(key)
    except TypeError:  # an unhashable value, such as a list, in a text field
        return FrameFacts(raw, event_platform)
    if facts is None:
        facts = FrameFacts(raw, event_platform)
        _remembered.put(key, facts)
    return facts


class PreparedFrame:
    """One frame of one stack trace after the classifier rules.

    ``in_app``, ``category`` and ``orig_in_app`` start as the frame's own
    values and change with the rules. ``match`` is the facts' shared match
    frame until a rule changes the frame, and then a copy with new values.
    """

    __slots__ = ("category", "facts", "in_app", "match", "orig_in_app", "raw")

    def __init__(self, raw: dict[str, Any], event_platform: str | None) -> None:
        self.raw = raw
        facts = self.facts = frame_facts(raw, event_platform)
        self.in_app = facts.in_app
        self.category = facts.category
        self.orig_in_app = facts.orig_in_app
        self.match = facts.match

    @property
    def client_in_app(self) -> bool | None:
        return self.facts.client_in_app

    def set_in_app(self, value: bool) -> None:
        if self.in_app == value:
            return
        if self.orig_in_app is None:
            self.orig_in_app = -1 if self.in_app is None else int(self.in_app)
        self.in_app = value


class PreparedStacktrace:
    """The frames of one stack trace after the classifier rules (oldest first)."""

    __slots__ = ("exception_data", "frames")

    def __init__(
        self, frames: list[PreparedFrame], exception_data: ExceptionData
    ) -> None:
        self.frames = frames
        self.exception_data = exception_data

    @property
    def match_frames(self) -> list[dict[str, Any]]:
        return [frame.match for frame in self.frames]

    def match_frames_with_orig_in_app(self) -> list[dict[str, Any]]:
        return [
            {**frame.match, "orig_in_app": frame.orig_in_app}
            if frame.orig_in_app is not None
            else frame.match
            for frame in self.frames
        ]


def prepare_stacktrace(
    frames: Sequence[Any],
    event_platform: str | None,
    exception_data: ExceptionData,
    enhancements: Enhancements,
) -> PreparedStacktrace:
    """Apply the classifier rules to one stack trace's frames (oldest first)."""
    prepared = [
        # Events are decoded JSON, so frames are plain dicts.
        PreparedFrame(frame, event_platform)
        for frame in frames
        if type(frame) is dict
    ]
    if not prepared:
        return PreparedStacktrace(prepared, exception_data)
    results = enhancements.classify_frames(
        [frame.match for frame in prepared],
        exception_data,
        keys=[frame.facts.match_key for frame in prepared],
    )
    for frame, (category, in_app) in zip(prepared, results, strict=True):
        if in_app is not None:
            frame.set_in_app(in_app)
        if category is not None:
            frame.category = category
        if frame.in_app is None:
            frame.set_in_app(False)
        match = frame.match
        encoded_category = match["category"] if category is None else category.encode()
        if encoded_category != match["category"] or match["in_app"] != frame.in_app:
            frame.match = {
                **match,
                "category": encoded_category,
                "in_app": bool(frame.in_app),
            }
    return PreparedStacktrace(prepared, exception_data)


def make_exception_data(exception: Mapping[str, Any] | None) -> ExceptionData:
    """Return the exception fields that enhancement rules can match on."""
    exception = exception or {}
    mechanism = exception.get("mechanism")
    mechanism_type = mechanism.get("type") if isinstance(mechanism, Mapping) else None
    return {
        "ty": _encode(exception.get("type")),
        "value": _encode(exception.get("value")),
        "mechanism": _encode(mechanism_type),
    }


def _encode(value: object) -> bytes | None:
    """Return a string's UTF-8 bytes; None for anything that is not a string."""
    return value.encode("utf-8") if type(value) is str else None
