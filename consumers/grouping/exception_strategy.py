"""Exception strategies: one exception, a chain of exceptions, exception groups.

One exception becomes an ``exception`` component: ``stacktrace`` (when it has
frames), ``type``, ``ns_error`` (Apple NSError domain and code) and ``value``
(parameterized message, used only when nothing better contributes). A chain
becomes ``chained_exception`` with one child per exception, after exception
groups are reduced to their distinct leaf exceptions.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from consumers.grouping.component import Component
from consumers.grouping.enhancements import Enhancements
from consumers.grouping.frames import is_mapping
from consumers.grouping.parameterization import normalize_message_for_grouping
from consumers.grouping.prepared_frames import (
    make_exception_data,
    prepare_stacktrace,
)
from consumers.grouping.stacktrace import stacktrace_variants

Variants = dict[str, Component]


def single_exception_variants(
    exception: Mapping[str, Any],
    platform: str | None,
    enhancements: Enhancements,
    *,
    hints: bool = True,
    app_only: bool = False,
) -> Variants:
    """Return the ``exception`` component per variant.

    Without a stack trace only the ``app`` variant exists, as in Sentry.
    ``hints`` False leaves out frame hints, and ``app_only`` the ``system``
    variant (see `stacktrace_variants` for both).
    """
    exception_type = _text(exception.get("type"))
    mechanism = exception.get("mechanism")
    mechanism = mechanism if is_mapping(mechanism) else {}
    synthetic = bool(mechanism.get("synthetic"))

    ns_error = _ns_error_component(mechanism)
    stacktrace = exception.get("stacktrace")
    if is_mapping(stacktrace):
        frames = stacktrace.get("frames") or []
        exception_data = make_exception_data(exception)
        prepared = prepare_stacktrace(frames, platform, exception_data, enhancements)
        stacktraces = stacktrace_variants(
            prepared, enhancements, hints=hints, app_only=app_only
        )
    else:
        # Without frames Sentry still adds an empty stacktrace, for the app
        # variant only.
        stacktraces = {"app": Component("stacktrace")}

    raw_value = _text(exception.get("value"))
    normalized_value = (
        normalize_message_for_grouping(raw_value) if raw_value is not None else None
    )
    variants: Variants = {}
    for variant, stacktrace_component in stacktraces.items():
        type_component = Component("type", [exception_type] if exception_type else [])
        if synthetic:
            # Synthetic exceptions are built from signals, so their type means little.
            type_component.update_component(
                contributes=False, hint="ignored because exception is synthetic"
            )
        values = [stacktrace_component, type_component]
        if ns_error is not None:
            values.append(ns_error)
        values.append(
            _value_component(
                raw_value, normalized_value, stacktrace_component, ns_error
            )
        )
        variants[variant] = Component("exception", values)
    return variants


def _ns_error_component(mechanism: Mapping[str, Any]) -> Component | None:
    meta = mechanism.get("meta")
    ns_error = meta.get("ns_error") if is_mapping(meta) else None
    if not is_mapping(ns_error):
        return None
    domain = ns_error.get("domain")
    code = ns_error.get("code")
    return Component(
        "ns_error",
        [
            Component("domain", [domain] if domain is not None else []),
            Component("code", [code] if code is not None else []),
        ],
    )


def _value_component(
    raw: str | None,
    normalized: str | None,
    stacktrace: Component,
    ns_error: Component | None,
) -> Component:
    """Build the ``value`` child from the raw and the parameterized value."""
    values: list[str] = []
    hint = None
    if raw is not None and normalized:
        values = [normalized]
        if normalized != raw:
            hint = "stripped event-specific values"
    contributes = bool(values)
    if stacktrace.contributes and contributes:
        contributes = False
        hint = "ignored because stacktrace takes precedence"
    if ns_error is not None and ns_error.contributes and contributes:
        contributes = False
        hint = "ignored because ns-error info takes precedence"
    return Component("value", values, contributes=contributes, hint=hint)


def chained_exception_variants(
    exceptions: Sequence[Mapping[str, Any]],
    platform: str | None,
    enhancements: Enhancements,
    *,
    filter_groups: bool = True,
    hints: bool = True,
    app_only: bool = False,
) -> Variants:
    """Return the component per variant for all exceptions of an event.

    A single remaining exception is returned as its ``exception`` component,
    without the ``chained_exception`` level. ``filter_groups`` False keeps
    every exception of an exception group. With ``app_only``, the result is
    the full result's ``app`` variant only if no exception is an exception
    group, because filtering groups compares the hashes of both variants.
    """
    by_exception = [
        single_exception_variants(
            e, platform, enhancements, hints=hints, app_only=app_only
        )
        for e in exceptions
    ]
    kept = list(range(len(exceptions)))
    if filter_groups:
        kept = filter_exception_groups(kept, exceptions, by_exception)
    if len(kept) == 1:
        variants = by_exception[kept[0]]
    else:
        grouped: dict[str, list[Component]] = {}
        for index in kept:
            for variant, component in by_exception[index].items():
                grouped.setdefault(variant, []).append(component)
        variants = {
            variant: Component("chained_exception", components)
            for variant, components in grouped.items()
        }
    return variants


def ignore_variants_without_stacktrace(variants: Variants) -> None:
    """Mark variants without a contributing stack trace when another has one.

    Otherwise the app variant of an exception without in-app frames would
    fall back to type and value alone, which groups far too coarsely.
    """
    if len(variants) <= 1:
        return
    with_stacktrace = [
        name
        for name, component in variants.items()
        if has_contributing_stacktrace(component)
    ]
    if not with_stacktrace:
        return
    if len(with_stacktrace) == 1:
        suffix = f"the {with_stacktrace[0]} variant does"
    else:
        suffix = "others do"
    for name, component in variants.items():
        if name not in with_stacktrace:
            component.update_component(
                contributes=False,
                hint=(
                    "ignored because this variant does not have a contributing "
                    f"stacktrace, but {suffix}"
                ),
            )


def is_exception_group(exception: Mapping[str, Any]) -> bool:
    """Return whether the exception is marked as an exception group."""
    mechanism = exception.get("mechanism")
    return is_mapping(mechanism) and bool(mechanism.get("is_exception_group"))


def has_contributing_stacktrace(component: Component) -> bool:
    # Looks below the given component only, and not into ignored subtrees.
    for child in component["values"]:
        if type(child) is not Component or not child["contributes"]:
            continue
        if child["id"] == "stacktrace" or has_contributing_stacktrace(child):
            return True
    return False


def filter_exception_groups(
    indexes: list[int],
    exceptions: Sequence[Mapping[str, Any]],
    components: Sequence[Variants],
) -> list[int]:
    """Reduce an exception group tree to its distinct top-level exceptions.

    Exceptions link to their group with ``mechanism.exception_id`` and
    ``parent_id``, and the root has id 0. Returns indexes into ``exceptions``.
    When the tree cannot be rebuilt, they are the input unchanged. With one
    distinct top-level exception, they are the first path down from it.
    Otherwise they are the distinct top-level exceptions and the root group.
    """
    if len(indexes) <= 1:
        return indexes

    nodes: dict[int, int | None] = {}
    children: dict[int, list[int]] = {}
    for index in reversed(indexes):
        mechanism = exceptions[index].get("mechanism")
        if not isinstance(mechanism, Mapping):
            return indexes
        exception_id = _int_or_none(mechanism.get("exception_id"))
        parent_id = _int_or_none(mechanism.get("parent_id"))
        # A missing or repeated id, or an exception that is its own parent,
        # breaks the tree: keep every exception then.
        if (
            exception_id is None
            or exception_id == parent_id
            or nodes.get(exception_id) is not None
        ):
            return indexes
        nodes[exception_id] = index
        children.setdefault(exception_id, [])
        if parent_id is not None:
            nodes.setdefault(parent_id, None)
            children.setdefault(parent_id, []).append(index)

    root = nodes.get(0)
    if root is None:
        return indexes

    def id_of(index: int) -> int:
        return int(exceptions[index]["mechanism"]["exception_id"])

    def is_group(index: int) -> bool:
        return is_exception_group(exceptions[index])

    def top_level(index: int, path: frozenset[int]) -> Iterator[int]:
        # Groups are looked through to the first exceptions that are not groups.
        if index in path:
            raise _CycleError
        if not is_group(index):
            yield index
            return
        for child in children.get(id_of(index), []):
            yield from top_level(child, path | {index})

    def first_path(index: int) -> Iterator[int]:
        seen: set[int] = set()
        current: int | None = index
        while current is not None:
            if current in seen:
                raise _CycleError
            seen.add(current)
            yield current
            kids = children.get(id_of(current), [])
            current = kids[0] if kids else None

    try:
        candidates = sorted(
            top_level(root, frozenset()),
            key=lambda i: str(exceptions[i].get("type")),
            reverse=True,
        )
        if not candidates:
            return indexes
        distinct = [
            next(group)
            for _key, group in itertools.groupby(
                candidates, key=lambda i: _identity(components[i])
            )
        ]
        if len(distinct) == 1:
            return list(first_path(distinct[0]))
    except _CycleError:
        return indexes
    return [*distinct, root]


class _CycleError(Exception):
    """The exception tree links back to an exception already on the path."""


def _identity(variants: Variants) -> tuple[tuple[str, str | None], ...]:
    return tuple((name, variants[name].get_hash()) for name in sorted(variants))


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
