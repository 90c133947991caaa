"""The stack trace strategy: frames become a ``stacktrace`` component per variant.

Before components are built, each stack trace goes through the classifier
rules (in-app and category), as Sentry does when it saves an event. The event
itself is not modified: the results live in `PreparedFrame` objects.
Then each variant builds frame components and lets the contribution rules
decide which frames count: in the ``app`` variant only in-app frames do.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from sentry_ophio.enhancers import Component as RustComponent

from consumers.grouping.component import Component
from consumers.grouping.enhancements import Enhancements
from consumers.grouping.frame_strategy import frame_children
from consumers.grouping.function_names import trim_function_name
from consumers.grouping.hints import (
    app_variant_system_frame_hint,
    combine_hints,
    frame_hint,
    stacktrace_hint,
    system_variant_frame_hint,
)
from consumers.grouping.platforms import (
    NATIVE_PLATFORMS,
    behavior_family,
    has_url_origin,
)

ExceptionData = dict[str, bytes | None]

# Fields that, with the function and file names, must all be equal for a frame
# to count as a recursive call of the frame before it.
_RECURSION_FIELDS = ("abs_path", "package", "module", "lineno", "colno")


class PreparedFrame:
    """One frame with the values grouping uses, after the classifier rules."""

    __slots__ = (
        "category",
        "client_in_app",
        "filename",
        "function",
        "in_app",
        "orig_in_app",
        "package",
        "path",
        "platform",
        "raw",
        "raw_function",
    )

    def __init__(self, raw: Mapping[str, Any], event_platform: str | None) -> None:
        self.raw = raw
        get = raw.get
        platform = get("platform")
        self.platform: str | None = (
            platform if type(platform) is str else event_platform
        )
        data = get("data")
        if not isinstance(data, dict):
            data = {}

        # A stored event already went through the rules once: start from the
        # value the client sent, as Sentry does when it groups again.
        in_app = get("in_app")
        stored_orig = data.get("orig_in_app")
        if stored_orig is not None:
            in_app = None if stored_orig == -1 else bool(stored_orig)
        self.in_app: bool | None = in_app if type(in_app) is bool else None
        # The value the client sent, before any rule changed it.
        self.client_in_app: bool | None = (
            self.in_app if self.in_app is not None else data.get("client_in_app")
        )
        # Like Sentry, keep the first recorded original value (setdefault).
        self.orig_in_app: int | None = stored_orig if type(stored_orig) is int else None
        category = data.get("category")
        self.category: str | None = category if type(category) is str else None

        function = _text(get("function"))
        raw_function = _text(get("raw_function"))
        if raw_function is None and function and self.platform in _TRIMMED_PLATFORMS:
            trimmed = trim_function_name(function, self.platform)
            if trimmed != function:
                raw_function, function = function, trimmed
        self.function = function
        self.raw_function = raw_function
        package = _text(get("package"))
        self.package = package.lower() if package else None
        filename = _text(get("filename"))
        if event_platform == "javascript" and filename and "?" in filename:
            # Query strings in script URLs vary per deployment; Sentry drops them.
            query = urlsplit(filename).query
            if query:
                filename = filename.replace(f"?{query}", "")
        self.filename = filename
        path = _text(get("abs_path")) or filename
        self.path = path.lower() if path else None

    def set_in_app(self, value: bool) -> None:
        if self.in_app == value:
            return
        if self.orig_in_app is None:
            self.orig_in_app = -1 if self.in_app is None else int(self.in_app)
        self.in_app = value

    def match_frame(self) -> dict[str, Any]:
        """Return the frame as sentry-ophio's matchers read it (UTF-8 bytes).

        ``orig_in_app`` is left out (None); the in-app hint pass adds it.
        """
        function = self.function if self.function != "?" else None
        return {
            "category": _encode(self.category),
            "family": _FAMILY_BYTES[behavior_family(self.platform)],
            "function": _encode(function),
            "in_app": bool(self.in_app),
            "orig_in_app": None,
            "module": _encode(_text(self.raw.get("module"))),
            "package": _encode(self.package),
            "path": _encode(self.path),
        }

    def children(self) -> tuple[list[Component], bool, str | None]:
        """Return the frame's children, built once and shared by both variants."""
        return frame_children(
            self.raw,
            filename=self.filename,
            platform=self.platform,
            function=self.function,
            raw_function=self.raw_function,
        )


_FAMILY_BYTES = {name: name.encode() for name in ("native", "javascript", "other")}
# Platforms whose function names `trim_function_name` changes.
_TRIMMED_PLATFORMS = NATIVE_PLATFORMS | {"csharp"}


class PreparedStacktrace:
    """The frames of one stack trace after the classifier rules, with their
    match frames for the contribution rules (oldest frame first)."""

    __slots__ = ("exception_data", "frames", "match_frames")

    def __init__(
        self,
        frames: list[PreparedFrame],
        match_frames: list[dict[str, Any]],
        exception_data: ExceptionData,
    ) -> None:
        self.frames = frames
        self.match_frames = match_frames
        self.exception_data = exception_data

    def match_frames_with_orig_in_app(self) -> list[dict[str, Any]]:
        return [
            {**match, "orig_in_app": frame.orig_in_app}
            if frame.orig_in_app is not None
            else match
            for frame, match in zip(self.frames, self.match_frames, strict=True)
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
    match_frames = [frame.match_frame() for frame in prepared]
    if prepared:
        results = enhancements.classifier.apply_modifications_to_frames(
            match_frames, exception_data
        )
        for frame, match, (category, in_app) in zip(
            prepared, match_frames, results, strict=True
        ):
            if in_app is not None:
                frame.set_in_app(in_app)
            if category is not None:
                frame.category = category
                match["category"] = category.encode()
            if frame.in_app is None:
                frame.set_in_app(False)
            match["in_app"] = bool(frame.in_app)
    return PreparedStacktrace(prepared, match_frames, exception_data)


def make_exception_data(exception: Mapping[str, Any] | None) -> ExceptionData:
    """Return the exception fields that enhancement rules can match on."""
    exception = exception or {}
    mechanism = exception.get("mechanism")
    mechanism_type = mechanism.get("type") if isinstance(mechanism, Mapping) else None
    return {
        "ty": _encode(_text(exception.get("type"))),
        "value": _encode(_text(exception.get("value"))),
        "mechanism": _encode(_text(mechanism_type)),
    }


def stacktrace_variants(
    stacktrace: PreparedStacktrace, enhancements: Enhancements
) -> dict[str, Component]:
    """Return the ``app`` and ``system`` stacktrace components of a stack trace."""
    frames = stacktrace.frames
    built = [frame.children() for frame in frames]
    recursion = [False] + [
        _is_recursion(frame, previous) for previous, frame in itertools.pairwise(frames)
    ]
    app = _stacktrace_component("app", stacktrace, built, recursion, enhancements)
    system = _stacktrace_component("system", stacktrace, built, recursion, enhancements)
    _explain_ignored_stacktraces(app, system)
    return {"app": app, "system": system}


def _explain_ignored_stacktraces(app: Component, system: Component) -> None:
    # Frames are counted in the system variant because only there does every
    # frame keep its own contributes flag.
    frames = list(system.children())
    if not frames:
        for component in (app, system):
            component.update_component(
                contributes=False, hint="ignored because it contains no frames"
            )
        return
    contributing = [frame for frame in frames if frame.contributes]
    if not contributing:
        system.update_component(
            contributes=False, hint="ignored because it contains no contributing frames"
        )
    if not any(frame.in_app for frame in frames):
        app.update_component(
            contributes=False, hint="ignored because it contains no in-app frames"
        )
    elif not any(frame.in_app for frame in contributing):
        app.update_component(
            contributes=False, hint="ignored because it contains no contributing frames"
        )


def _stacktrace_component(
    variant: str,
    stacktrace: PreparedStacktrace,
    built: list[tuple[list[Component], bool, str | None]],
    recursion: list[bool],
    enhancements: Enhancements,
) -> Component:
    frames = stacktrace.frames
    if not frames:
        return Component("stacktrace", contributes=False)

    components: list[Component] = []
    for frame, (children, contributes, frame_level_hint), repeated in zip(
        frames, built, recursion, strict=True
    ):
        hint = None
        if frame_level_hint is not None:
            contributes, hint = False, frame_level_hint
        if repeated:
            contributes, hint = False, "ignored due to recursion"
        if variant == "app" and not frame.in_app:
            contributes = False
        component = Component("frame", children, contributes=contributes, hint=hint)
        component.in_app = bool(frame.in_app)
        components.append(component)

    # A lone JavaScript frame without a function name that points at a URL
    # is too little to group by.
    only = frames[0]
    if (
        len(frames) == 1
        and components[0].contributes
        and behavior_family(only.platform) == "javascript"
        and not only.raw.get("function")
        and has_url_origin(_text(only.raw.get("abs_path")), files_count_as_urls=True)
    ):
        components[0].update_component(
            contributes=False, hint="ignored single non-URL JavaScript frame"
        )

    return _assemble(variant, stacktrace, components, enhancements)


def _assemble(
    variant: str,
    stacktrace: PreparedStacktrace,
    components: list[Component],
    enhancements: Enhancements,
) -> Component:
    frames = stacktrace.frames
    # The classifier pass only yields in-app hints, which matter in the app
    # variant, and only for frames whose in_app differs from the client's.
    in_app_results: list[RustComponent | None] = [None] * len(frames)
    if variant == "app" and any(
        frame.in_app != frame.client_in_app for frame in frames
    ):
        rust_frames = [RustComponent(contributes=None) for _ in frames]
        enhancements.classifier.assemble_stacktrace_component(
            stacktrace.match_frames_with_orig_in_app(),
            stacktrace.exception_data,
            rust_frames,
        )
        in_app_results = list(rust_frames)
    contributes_results = [RustComponent(contributes=c.contributes) for c in components]
    stack_result = enhancements.contributes.assemble_stacktrace_component(
        stacktrace.match_frames, stacktrace.exception_data, contributes_results
    )

    app = variant == "app"
    for frame, component, in_app_result, contributes_result in zip(
        frames, components, in_app_results, contributes_results, strict=True
    ):
        in_app_hint = in_app_result.hint if in_app_result is not None else None
        if not app:
            component["contributes"] = bool(contributes_result.contributes)
            component["hint"] = system_variant_frame_hint(
                contributes_result.hint, component["hint"]
            )
        elif not frame.in_app:
            # System frames never count in the app variant; only why they
            # are not in-app is shown.
            component["contributes"] = False
            component["hint"] = app_variant_system_frame_hint(
                in_app_hint, frame.client_in_app
            )
        else:
            component["contributes"] = bool(contributes_result.contributes)
            component["hint"] = combine_hints(
                variant,
                component,
                frame_hint(variant, frame, component, in_app_hint, "in-app"),
                frame_hint(
                    variant, frame, component, contributes_result.hint, "contributes"
                ),
            )

    return Component(
        "stacktrace",
        components,
        contributes=bool(stack_result.contributes),
        hint=stacktrace_hint(stack_result.hint),
    )


def _is_recursion(frame: PreparedFrame, previous: PreparedFrame) -> bool:
    if frame.function != previous.function or frame.filename != previous.filename:
        return False
    raw, before = frame.raw, previous.raw
    return all(raw.get(field) == before.get(field) for field in _RECURSION_FIELDS)


def _text(value: object) -> str | None:
    return value if type(value) is str else None


def _encode(value: str | None) -> bytes | None:
    return value.encode("utf-8") if value is not None else None
