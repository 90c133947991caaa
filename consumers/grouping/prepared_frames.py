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

from consumers.grouping.enhancements import ClassifierResult, Enhancements
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
# Distinct frames per generation of the memo, which keeps up to two. An
# entry takes an estimated kilobyte, most of it the frame's strings.
REMEMBERED_FRAMES_PER_GENERATION = 4_096


class FrameFacts:
    """The values grouping reads of one frame, before the classifier rules.

    ``match`` is the frame as sentry-ophio's matchers read it (UTF-8 bytes),
    with ``orig_in_app`` left out (None).
    Shared by every equal frame: never modify it, except ``classified`` (the
    frame's `Classified` values) and ``classified_by`` (the rules that gave
    them), which `prepare_stacktrace` fills when the rules judge each frame
    on its own.
    """

    __slots__ = (
        "category",
        "children",
        "classified",
        "classified_by",
        "client_in_app",
        "filename",
        "function",
        "in_app",
        "match",
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
        self.classified: Classified | None = None
        self.classified_by: Enhancements | None = None
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
    # Besides ``in_app`` and ``data``, the key contains every field that
    # `FrameFacts` reads. Reading them one by one is faster than a map.
    key = (
        event_platform,
        in_app if type(in_app) is bool else None,
        data_key,
        get("platform"),
        get("function"),
        get("raw_function"),
        get("package"),
        get("filename"),
        get("abs_path"),
        get("module"),
        get("context_line"),
    )
    try:
        # Look in the recent generation first, where most frames are found.
        facts = _remembered.recent.get(key)
    except TypeError:  # an unhashable value, such as a list, in a text field
        return FrameFacts(raw, event_platform)
    if facts is None:
        facts = _remembered.get(key)
        if facts is None:
            facts = FrameFacts(raw, event_platform)
            _remembered.put(key, facts)
    return facts


# A frame's (in_app, category, orig_in_app, changed match) after the
# classifier rules. The changed match is a copy of the facts' match frame
# with the new values, or None when the rules changed nothing it contains.
# Such a tuple usually contains no container, so CPython's cyclic collector
# stops tracking it, which saves a traversal per remembered frame.
Classified = tuple[bool | None, str | None, int | None, dict[str, Any] | None]


def _classified(facts: FrameFacts, result: ClassifierResult) -> Classified:
    """Apply one frame's classifier result (category, in_app) to its facts."""
    category, rule_in_app = result
    in_app, orig_in_app = facts.in_app, facts.orig_in_app
    if rule_in_app is not None and in_app != rule_in_app:
        orig_in_app = _original_in_app(in_app, orig_in_app)
        in_app = rule_in_app
    if category is None:
        category = facts.category
    if in_app is None:
        # A frame that neither the client nor a rule marked is not in-app.
        orig_in_app = _original_in_app(in_app, orig_in_app)
        in_app = False
    match = facts.match
    changed = None
    encoded_category = match["category"] if category is None else category.encode()
    if encoded_category != match["category"] or match["in_app"] != in_app:
        changed = {**match, "category": encoded_category, "in_app": in_app}
    return (in_app, category, orig_in_app, changed)


def _original_in_app(in_app: bool | None, orig_in_app: int | None) -> int | None:
    """Return the ``orig_in_app`` to keep when in_app changes: like Sentry,
    the first recorded value, else the current one (-1 for unset)."""
    if orig_in_app is not None:
        return orig_in_app
    return -1 if in_app is None else int(in_app)


class PreparedFrame:
    """One frame of one stack trace after the classifier rules.

    ``match`` is the facts' shared match frame, or a copy with the values
    that the rules changed.
    """

    __slots__ = ("category", "facts", "in_app", "match", "orig_in_app", "raw")

    def __init__(
        self, raw: dict[str, Any], facts: FrameFacts, classified: Classified
    ) -> None:
        self.raw = raw
        self.facts = facts
        self.in_app, self.category, self.orig_in_app, changed = classified
        self.match = facts.match if changed is None else changed

    @property
    def client_in_app(self) -> bool | None:
        return self.facts.client_in_app


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
    # Events are decoded JSON, so frames are plain dicts.
    raws = [frame for frame in frames if type(frame) is dict]
    facts = [frame_facts(raw, event_platform) for raw in raws]
    if (
        enhancements.classifier_per_frame
        and not enhancements.classifier_reads_exception
    ):
        classified = _classify_each(facts, exception_data, enhancements)
    else:
        classified = _classify(facts, exception_data, enhancements)
    prepared = [
        PreparedFrame(raw, frame, values)
        for raw, frame, values in zip(raws, facts, classified, strict=True)
    ]
    return PreparedStacktrace(prepared, exception_data)


def _classify_each(
    facts: list[FrameFacts],
    exception_data: ExceptionData,
    enhancements: Enhancements,
) -> list[Classified]:
    """Classify frames whose result depends on the frame alone.

    Each distinct frame keeps its values under the last rule set that
    classified it, so a frame seen before costs no rules engine call and
    no lookup of its values.
    """
    classified: list[Classified | None] = []
    missing: list[int] = []
    for index, frame in enumerate(facts):
        if frame.classified_by is enhancements:
            classified.append(frame.classified)
        else:
            classified.append(None)
            missing.append(index)
    if missing:
        unknown = [facts[index] for index in missing]
        computed = _classify(unknown, exception_data, enhancements)
        for index, frame, values in zip(missing, unknown, computed, strict=True):
            classified[index] = values
            frame.classified = values
            frame.classified_by = enhancements
    return classified  # type: ignore[return-value]  # no None is left


def _classify(
    facts: list[FrameFacts],
    exception_data: ExceptionData,
    enhancements: Enhancements,
) -> list[Classified]:
    """Run the classifier rules over frames and apply their results."""
    if not facts:
        return []
    results = enhancements.classify_frames(
        [frame.match for frame in facts], exception_data
    )
    return [
        _classified(frame, result) for frame, result in zip(facts, results, strict=True)
    ]


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
