"""Read frames out of Sentry's grouping-info dicts, and the frame-count filter.

A grouping-info dict maps a variant name (`app`, `system`, `default`,
`custom_fingerprint`, ...) to `{hash, contributes, component}`. A component is
`{id, contributes, hint, values}`, where `values` contains child components or
leaf strings and numbers. Sentry spelled component ids with hyphens
(`chained-exception`, `context-line`) until 2024 and with underscores since;
`component_id` maps both spellings to the underscore form.

Everything here is a pure function of plain data and never raises on a
malformed tree: a missing or mistyped key reads as absent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TypeGuard

# At most this many contributing frames go into the Seer string, and an event
# with more is skipped unless its platform bypasses the check.
MAX_FRAME_COUNT = 30

# Event platforms that Sentry backfilled before it introduced the frame-count
# filter. Their over-long stacktraces are truncated instead of skipped, so that
# new events keep matching the records that already exist in Seer (Sentry's
# `EVENT_PLATFORMS_BYPASSING_FRAME_COUNT_CHECK`).
PLATFORMS_BYPASSING_FRAME_COUNT_CHECK = frozenset(
    ["go", "javascript", "node", "php", "python", "ruby"]
)

# Variants whose component tree is a stacktrace-based grouping.
STACKTRACE_VARIANTS = frozenset(["app", "system"])


def is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    """Return whether `value` is a Mapping, cheaply for dicts and JSON leaves.

    The check against the Mapping ABC is several times slower than these
    type checks, and the trees are read once per event.
    """
    if isinstance(value, dict):
        return True
    if isinstance(value, _LEAF_TYPES):
        return False
    return isinstance(value, Mapping)


_LEAF_TYPES = (str, int, float, list, type(None))


def component_id(component: Any) -> str:
    """Return the id of `component` in the underscore spelling, or "" if none."""
    if not is_mapping(component):
        return ""
    value = component.get("id")
    return value.replace("-", "_") if isinstance(value, str) else ""


def child_components(component: Any) -> list[Mapping[str, Any]]:
    """Return the child components of `component`, skipping leaf values."""
    if not is_mapping(component):
        return []
    values = component.get("values")
    if not isinstance(values, list):
        return []
    return [value for value in values if isinstance(value, dict) or is_mapping(value)]


def first_leaf(component: Any) -> str:
    """Return the first leaf value of `component` as text, or "" if it has none."""
    if not is_mapping(component):
        return ""
    values = component.get("values")
    if not isinstance(values, list) or not values:
        return ""
    value = values[0]
    if value is None or is_mapping(value):
        return ""
    return str(value)


def string_variant_name(grouping_info: Mapping[str, Any]) -> str | None:
    """Name the variant the Seer string is built from.

    That is `app` when the app variant has a hash, else `system` when the
    system variant has one, else None (no stacktrace-based hash to describe).
    """
    for name in ("app", "system"):
        variant = grouping_info.get(name)
        if is_mapping(variant) and variant.get("hash"):
            return name
    return None


def contributing_variant_name(grouping_info: Mapping[str, Any]) -> str | None:
    """Name the variant that decides the group, as Sentry picks it.

    The app variant wins when it contributes; otherwise the first contributing
    variant in the mapping's order. A mapping with a single variant returns
    that variant whatever its flag. Returns None when no variant contributes.
    """
    variants = {
        name: variant for name, variant in grouping_info.items() if is_mapping(variant)
    }
    if len(variants) == 1:
        return next(iter(variants))

    app = variants.get("app")
    if app is not None and app.get("contributes"):
        return "app"

    for name, variant in variants.items():
        if variant.get("contributes"):
            return name
    return None


def iter_frames(component: Any) -> Iterator[Mapping[str, Any]]:
    """Yield every `frame` component under `component`, in tree order."""
    for child in child_components(component):
        if component_id(child) == "frame":
            yield child
        else:
            yield from iter_frames(child)


def _count_contributing_frames_in(variant: Any, *, system_only: bool = False) -> int:
    """Count contributing frames; `system_only` skips frames marked in-app.

    Only the variant's contributing top-level components count, the same
    ones the Seer string describes: an overruled strategy's component (a
    ``threads`` component beside a winning ``exception``) keeps its frames'
    flags but decides nothing. Frames carry `in_app` only when the producer
    of the tree adds it (Sentry's own dicts do not), so without the key
    every contributing frame counts.
    """
    if not is_mapping(variant):
        return 0
    count = 0
    for child in child_components(variant.get("component")):
        if not child.get("contributes"):
            continue
        if component_id(child) == "frame":
            if not (system_only and child.get("in_app") is True):
                count += 1
        else:
            count += _count_frames_below(child, system_only)
    return count


def _count_frames_below(component: Any, system_only: bool) -> int:
    # `iter_frames` as a count, without the generators: it runs per event.
    count = 0
    for child in child_components(component):
        # The id comparison is a cheap first test for the usual spelling.
        if child.get("id") == "frame" or component_id(child) == "frame":
            if child.get("contributes") and not (
                system_only and child.get("in_app") is True
            ):
                count += 1
        else:
            count += _count_frames_below(child, system_only)
    return count


def count_contributing_frames(grouping_info: Mapping[str, Any]) -> int:
    """Count the contributing frames of the variant the Seer string uses.

    Frames of every exception in a chain, every thread and a bare stacktrace
    all count. Returns 0 when neither the app nor the system variant has a
    hash.
    """
    name = string_variant_name(grouping_info)
    if name is None:
        return 0
    return _count_contributing_frames_in(grouping_info[name])


def has_too_many_contributing_frames(
    event: Mapping[str, Any], grouping_info: Mapping[str, Any]
) -> bool:
    """Return whether the event has more than `MAX_FRAME_COUNT` contributing frames.

    The frames counted are those of the variant that decides the group. An
    event grouped by anything but the app or system stacktrace (a custom or
    built-in fingerprint, a checksum, a message) is never flagged, and neither
    is an event whose `platform` is in `PLATFORMS_BYPASSING_FRAME_COUNT_CHECK`.
    """
    if event.get("platform") in PLATFORMS_BYPASSING_FRAME_COUNT_CHECK:
        return False

    name = contributing_variant_name(grouping_info)
    if name not in STACKTRACE_VARIANTS:
        return False

    # In the system variant Sentry counts only the frames that are not in-app.
    # NOTE: without an `in_app` key on the frame dicts every contributing frame
    # counts. That differs from Sentry only when an in-app frame contributes to
    # the system variant although the app variant has no hash.
    count = _count_contributing_frames_in(
        grouping_info[name], system_only=name == "system"
    )
    return count > MAX_FRAME_COUNT
