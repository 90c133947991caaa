"""The children of a frame component, built once per distinct frame.

A frame component's children are ``module``, ``filename``, ``function`` and,
on platforms with trusted source, ``context_line`` (see
`consumers.grouping.frame_strategy` for each). They depend only on a few
strings and flags of the frame. `build_frame_children` builds them with
what both variants and the stack trace string need of them, and caches
the children other than the function.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

from consumers.grouping.component import Component
from consumers.grouping.frame_strategy import (
    apply_unknown_javascript_name,
    context_line_component,
    filename_component,
    function_component,
    module_component,
)
from consumers.grouping.platforms import (
    CONTEXT_LINE_PLATFORMS,
    behavior_family,
    has_url_origin,
)

_LOW_QUALITY_JS_PATHS = frozenset(
    {"[native code]", "native code", "eval code", "<anonymous>"}
)
# Distinct frames whose children are kept.
_CACHE_SIZE = 1 << 12

_EMPTY_MODULE = Component("module")
_EMPTY_FILENAME = Component("filename")


class FrameText:
    """The text a frame adds to a variant's outputs, shared by equal frames.

    ``leaf_text`` is the concatenated leaves of the contributing children,
    which is what a contributing frame adds to the hash input.
    ``string_fields`` is filled by the stack trace string builder on first
    use. It refers to no component, so the frame components that point to
    it form no reference cycle with the `FrameChildren` that keeps them:
    a forgotten frame is freed at once, without the cyclic collector.
    """

    __slots__ = ("leaf_text", "string_fields")

    def __init__(self, leaf_text: str) -> None:
        self.leaf_text = leaf_text
        self.string_fields: Any = None


class FrameChildren:
    """The children of one frame component, with what its variants share.

    Built once per distinct frame by `build_frame_children` and shared by both
    variants and by every event with an equal frame, so never modify it:
    every frame component built from it shares its ``children`` list and
    its ``text``. ``shared_frames`` is filled by the stack trace strategy
    with the frame components without hints (indexed by
    ``2 * contributes + in_app``).
    """

    __slots__ = (
        "children",
        "contributes",
        "frame_hint",
        "shared_frames",
        "text",
    )

    def __init__(
        self,
        children: list[Component],
        contributes: bool,
        frame_hint: str | None,
        leaf_text: str | None = None,
    ) -> None:
        """Store the children. ``leaf_text``, when given, must equal the
        `contributed_text` of the children, concatenated in order."""
        self.children = children
        self.contributes = contributes
        self.frame_hint = frame_hint
        if leaf_text is None:
            leaf_text = "".join(map(contributed_text, children))
        self.text = FrameText(leaf_text)
        self.shared_frames: list[Component | None] = [None] * 4


def contributed_text(child: Component) -> str:
    """Return what a contributing child adds to the hash input, else ""."""
    if not child["contributes"]:
        return ""
    return "".join(map(str, child["values"]))


def frame_children(
    frame: Mapping[str, Any],
    *,
    filename: str | None,
    platform: str | None,
    function: str | None,
    raw_function: str | None,
) -> tuple[list[Component], bool, str | None]:
    """Build the children of one frame.

    ``filename`` and ``function`` are the frame's values after Sentry's
    pre-grouping clean-up (query string removed, function name trimmed).
    Returns the children, whether the frame contributes by them, and a
    frame-level hint when the frame itself is ignored.
    """
    data = frame.get("data")
    raw_line = frame.get("context_line")
    built = build_frame_children(
        _str_or_none(frame.get("abs_path")),
        _str_or_none(frame.get("module")),
        filename,
        platform,
        raw_line if isinstance(raw_line, str) else None,
        bool(frame.get("function")),
        function,
        raw_function,
        type(data) is dict and data.get("sourcemap") is not None,
    )
    return list(built.children), built.contributes, built.frame_hint


class _Location(NamedTuple):
    """The children and flags of a frame that do not depend on its function."""

    module: Component
    filename: Component
    context_line: Component | None
    # Whether the module, file name or context line contributes.
    contributes: bool
    # The hash input text of the module and file name, and of the context
    # line. The function child's text goes between the two.
    head_text: str
    tail_text: str
    family: str
    low_quality_path: bool


@functools.lru_cache(maxsize=_CACHE_SIZE)
def location_children(
    abs_path: str | None,
    module_name: str | None,
    filename: str | None,
    platform: str | None,
    raw_line: str | None,
    has_raw_function: bool,
) -> _Location:
    """Build the children of a frame other than its function (cached)."""
    if module_name is None:
        module = _EMPTY_MODULE
    else:
        ends_with = bool(abs_path) and abs_path.endswith(module_name)  # type: ignore[union-attr]
        module = module_component(module_name, platform, ends_with)
    if filename is None:
        filename_child = _EMPTY_FILENAME
    else:
        filename_child = filename_component(
            filename,
            platform,
            has_url_origin(abs_path, files_count_as_urls=False),
            module.contributes,
        )

    family = behavior_family(platform)
    context_line = None
    if raw_line and platform in CONTEXT_LINE_PLATFORMS:
        url_without_function = (
            family == "javascript"
            and not has_raw_function
            and has_url_origin(abs_path, files_count_as_urls=True)
        )
        context_line = context_line_component(raw_line, url_without_function)

    contributes = module.contributes or filename_child.contributes
    tail_text = ""
    if context_line is not None:
        contributes = contributes or context_line.contributes
        tail_text = contributed_text(context_line)
    return _Location(
        module,
        filename_child,
        context_line,
        contributes,
        contributed_text(module) + contributed_text(filename_child),
        tail_text,
        family,
        abs_path in _LOW_QUALITY_JS_PATHS,
    )


def build_frame_children(
    abs_path: str | None,
    module_name: str | None,
    filename: str | None,
    platform: str | None,
    raw_line: str | None,
    has_raw_function: bool,
    function: str | None,
    raw_function: str | None,
    sourcemap_used: bool,
) -> FrameChildren:
    """Build the children of a frame from its grouping-relevant fields.

    ``has_raw_function`` is whether the frame as sent has a function name;
    ``sourcemap_used`` whether its ``data.sourcemap`` is set. The other
    arguments are as in `frame_children`, with ``None`` for a missing value.
    The children other than the function are cached, because frames that
    differ only in their function names share them.
    """
    location = location_children(
        abs_path, module_name, filename, platform, raw_line, has_raw_function
    )
    context_line = location.context_line
    function_child = function_component(
        function,
        raw_function,
        platform,
        sourcemap_used,
        context_line is not None and context_line.contributes,
    )
    contributes = location.contributes or function_child["contributes"]
    frame_hint = None
    if location.family == "javascript":
        name = raw_function or function
        function_child = apply_unknown_javascript_name(function_child, name)
        if name:
            name = name.rsplit(".", 1)[-1]
        if name == "eval" or location.low_quality_path:
            frame_hint = "ignored low quality javascript frame"

    if context_line is None:
        children = [location.module, location.filename, function_child]
    else:
        children = [location.module, location.filename, function_child, context_line]
    text = location.head_text + contributed_text(function_child) + location.tail_text
    return FrameChildren(children, contributes, frame_hint, text)


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
