"""Build the stacktrace string that Seer embeds for an event.

The string is derived from the grouping-info dict (variant name -> {hash,
contributes, component}) and follows Sentry's `get_stacktrace_string`
(src/sentry/seer/similarity/utils.py, 2025), so that records written by this
backfill match the strings Sentry sends to Seer at ingest:

- It describes the app variant, or the system variant when the app variant has
  no hash. Without either hash the string is empty.
- Exceptions appear outermost first. The event lists them innermost first, and
  only the last `MAX_EXCEPTION_COUNT` of that list are kept.
- Only contributing `exception`, `threads` and `stacktrace` components appear.
  An exception opens with the header `Type: value`; threads and bare
  stacktraces have no header.
- At most `MAX_FRAME_COUNT` contributing frames appear overall, handed out
  outermost exception first, and each exception keeps its most recent frames.
  When no frame has a context line other than a `{snip}`-marked one (fully
  minified JavaScript), the limit is `FULLY_MINIFIED_MAX_FRAME_COUNT`.
- Each frame is the two lines `  File "<filename>", function <function>` and
  `    <context line>`. A missing filename falls back to the module, then to
  the text `None`. Frames whose filename starts with a base64 `data:` prefix
  are dropped but still count against the frame limit.
- A lone headerless frame without a filename says too little to group on, so
  the string is empty.
- The result is stripped of surrounding whitespace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from consumers.grouping.component import Component
from consumers.grouping.frames import (
    MAX_FRAME_COUNT,
    child_components,
    component_id,
    first_leaf,
    is_mapping,
    string_variant_name,
)

__all__ = [
    "BASE64_ENCODED_PREFIXES",
    "FULLY_MINIFIED_MAX_FRAME_COUNT",
    "IGNORED_FILENAMES",
    "MAX_EXCEPTION_COUNT",
    "MAX_FRAME_COUNT",
    "get_stacktrace_string",
    "is_snipped_context_line",
]

MAX_EXCEPTION_COUNT = 30

# Minified frames are far denser in tokens than readable ones, so a fully
# minified stacktrace gets a lower frame limit.
FULLY_MINIFIED_MAX_FRAME_COUNT = 20

# Filenames that start with one of these are inline base64 payloads: long, and
# with nothing in them that helps to compare stacktraces.
BASE64_ENCODED_PREFIXES = (
    "data:text/html;base64",
    "data:text/javascript;base64",
    "html;base64",
    "javascript;base64",
)

# Filenames that name no source file. They are treated as missing, so that a
# build tool starting to emit them does not change the string.
# NOTE: Sentry keeps a list under the same name whose full value is unknown
# here. `<compiler-generated>` (Swift) is the filename it was introduced for.
IGNORED_FILENAMES = frozenset(["<compiler-generated>"])

SNIP_MARKER = "{snip}"

T = TypeVar("T")

_SECTION_KINDS = frozenset(["exception", "threads", "stacktrace"])


def is_snipped_context_line(context_line: str) -> bool:
    """Return whether a context line was cut by Sentry's JavaScript processor."""
    return context_line.startswith(SNIP_MARKER) or context_line.endswith(SNIP_MARKER)


@dataclass
class _FrameTally:
    """Running totals over all sections, in the order they are built."""

    frames_taken: int = 0
    found_unsnipped_context_line: bool = False
    found_frame_without_filename: bool = False


@dataclass
class _Section:
    """One exception, thread or bare stacktrace of the string."""

    header: str
    frame_blocks: list[str] = field(default_factory=list)


def _keep_most_recent(items: list[T], limit: int, already_taken: int) -> list[T]:
    """Keep the last items that still fit under `limit` after `already_taken`.

    Frames are listed oldest call first, so the last ones are the most recent.
    """
    remaining = limit - already_taken
    if remaining <= 0:
        return []
    if len(items) > remaining:
        return items[-remaining:]
    return items


def _frame_fields(frame: Mapping[str, Any]) -> dict[str, str]:
    fields = {"filename": "", "module": "", "function": "", "context_line": ""}
    for child in child_components(frame):
        if type(child) is not Component:
            name = component_id(child)
            if name in fields:
                fields[name] = first_leaf(child)
            continue
        # `component_id` and `first_leaf` for a Component, whose id is a
        # string and whose values are a list.
        name = child["id"].replace("-", "_")
        if name in fields:
            values = child["values"]
            leaf = values[0] if values else None
            if leaf is None or (type(leaf) is not str and is_mapping(leaf)):
                fields[name] = ""
            else:
                fields[name] = str(leaf)
    if fields["filename"] in IGNORED_FILENAMES:
        fields["filename"] = ""
    return fields


# One frame's part of the string (None for a frame that is dropped, such as
# one with a base64 filename), whether its context line is not snipped, and
# whether it has a filename. A plain tuple, not a named one: it is kept for
# every remembered frame, and CPython's cyclic collector stops tracking
# exact tuples of strings and bools.
_RenderedFrame = tuple[str | None, bool, bool]


def _render_frame(frame: Mapping[str, Any]) -> _RenderedFrame:
    # A frame component built by the stack trace strategy shares its
    # children with every equal frame, so its rendering is kept with them.
    shared = frame.frame_text if type(frame) is Component else None
    if shared is not None and shared.string_fields is not None:
        rendered: _RenderedFrame = shared.string_fields
        return rendered

    fields = _frame_fields(frame)
    block = None
    if not fields["filename"].startswith(BASE64_ENCODED_PREFIXES):
        location = fields["filename"] or fields["module"] or "None"
        block = (
            f'  File "{location}", function {fields["function"]}\n'
            f"    {fields['context_line']}\n"
        )
    rendered = (
        block,
        not is_snipped_context_line(fields["context_line"]),
        bool(fields["filename"]),
    )
    if shared is not None:
        shared.string_fields = rendered
    return rendered


def _frame_blocks(frames: Sequence[Mapping[str, Any]], tally: _FrameTally) -> list[str]:
    """Render the contributing frames of one stacktrace component."""
    contributing = [
        frame
        for frame in frames
        # The id comparison is a cheap first test for the usual spelling.
        if frame.get("contributes")
        and (frame.get("id") == "frame" or component_id(frame) == "frame")
    ]
    kept = _keep_most_recent(contributing, MAX_FRAME_COUNT, tally.frames_taken)
    tally.frames_taken += len(kept)

    blocks = []
    for frame in kept:
        # `_render_frame`'s lookup of a shared rendering, inlined.
        shared = frame.frame_text if type(frame) is Component else None
        rendered = shared.string_fields if shared is not None else None
        if rendered is None:
            rendered = _render_frame(frame)
        block, has_unsnipped_context_line, has_filename = rendered
        if has_unsnipped_context_line:
            tally.found_unsnipped_context_line = True
        if not has_filename:
            tally.found_frame_without_filename = True
        if block is not None:
            blocks.append(block)
    return blocks


def _build_section(component: Mapping[str, Any], tally: _FrameTally) -> _Section:
    kind = component_id(component)
    if kind == "stacktrace":
        return _Section("", _frame_blocks(child_components(component), tally))

    exception_type = ""
    exception_value = ""
    blocks: list[str] = []
    for child in child_components(component):
        name = component_id(child)
        if name == "type":
            exception_type = first_leaf(child)
        elif name == "value":
            exception_value = first_leaf(child)
        elif name == "stacktrace" and tally.frames_taken < MAX_FRAME_COUNT:
            blocks = _frame_blocks(child_components(child), tally)

    header = f"{exception_type}: {exception_value}\n" if kind == "exception" else ""
    return _Section(header, blocks)


def _top_level_components(variant: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    entries = child_components(variant.get("component"))
    if entries and component_id(entries[0]) == "chained_exception":
        return child_components(entries[0])
    return entries


def _render(sections: list[_Section], tally: _FrameTally) -> str:
    fully_minified = not tally.found_unsnipped_context_line
    parts = []
    frames_shown = 0
    for section in sections:
        blocks = section.frame_blocks
        if fully_minified:
            blocks = _keep_most_recent(
                blocks, FULLY_MINIFIED_MAX_FRAME_COUNT, frames_shown
            )
            frames_shown += len(blocks)
        parts.append(section.header)
        parts.extend(blocks)
    return "".join(parts).strip()


def _is_lone_frame_without_filename(
    sections: list[_Section], tally: _FrameTally
) -> bool:
    if not tally.found_frame_without_filename or len(sections) != 1:
        return False
    only = sections[0]
    return only.header == "" and len(only.frame_blocks) == 1


def get_stacktrace_string(
    grouping_info: Mapping[str, Any], platform: str | None = None
) -> str:
    """Build the stacktrace string Seer embeds, from a grouping-info dict.

    `platform` is accepted for signature parity with Sentry and does not
    change the result: events over the frame limit are filtered separately by
    `has_too_many_contributing_frames`. Returns "" when there is nothing to
    describe. Never raises on a malformed component tree: missing or mistyped keys read
    as absent.
    """
    variant_name = string_variant_name(grouping_info)
    if variant_name is None:
        return ""

    entries = _top_level_components(grouping_info[variant_name])
    tally = _FrameTally()
    sections = []
    for entry in reversed(entries[-MAX_EXCEPTION_COUNT:]):
        if not entry.get("contributes") or component_id(entry) not in _SECTION_KINDS:
            continue
        sections.append(_build_section(entry, tally))

    if _is_lone_frame_without_filename(sections, tally):
        return ""
    return _render(sections, tally)
