"""Grouping components: the tree a grouping strategy builds for one variant.

A component has an id (``frame``, ``function``, ``stacktrace`` ...), a list of
values (child components or leaf strings and integers), a ``contributes`` flag
and an optional hint that explains why it does or does not contribute. A variant's
hash is the md5 of the contributing leaves, in tree order, with no separator.

`Component` is a dict in Sentry's serialised shape (``id``, ``name``,
``contributes``, ``hint``, ``values``), so the grouping info needs no
conversion. Trees may share child components between variants; treat the
dicts of a finished result as read-only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from consumers.grouping.frame_children import FrameChildren, FrameText

LeafValue: TypeAlias = str | int
ComponentValue: TypeAlias = "Component | str | int"

# Human-readable names that Sentry's grouping info shows beside the ids.
_NAMES: dict[str, str] = {
    "app": "in-app",
    "system": "system",
    "default": "default",
    "exception": "exception",
    "chained_exception": "chained exception",
    "stacktrace": "stacktrace",
    "threads": "thread",
    "message": "message",
    "template": "template",
    "csp": "csp",
    "hpkp": "hpkp",
    "expect_ct": "expect-ct",
    "expect_staple": "expect-staple",
    "ns_error": "ns-error",
    "type": "type",
    "value": "value",
    "context_line": "context-line",
}


class Component(dict[str, Any]):
    """One node of a grouping component tree, stored as Sentry's component dict.

    ``contributes`` defaults to whether any value contributes (a leaf value
    always does), so a node built from non-contributing children does not
    contribute either. Later changes to children do not propagate upwards:
    strategies update parents explicitly, as Sentry's do. ``in_app`` is kept
    beside the dict for frame components and is not serialised; neither is
    ``frame_text``, the shared `FrameText` of the `FrameChildren` a frame
    component was built from.
    """

    __slots__ = ("frame_text", "in_app")

    def __init__(
        self,
        id: str,
        values: Sequence[ComponentValue] | None = None,
        *,
        contributes: bool | None = None,
        hint: str | None = None,
        in_app: bool | None = None,
    ) -> None:
        children = list(values) if values else []
        if contributes is None:
            contributes = _any_contributes(children)
        dict.__init__(
            self,
            id=id,
            name=_NAMES.get(id),
            contributes=contributes,
            hint=hint,
            values=children,
        )
        self.in_app = in_app
        self.frame_text: FrameText | None = None

    @classmethod
    def for_frame(
        cls,
        frame: FrameChildren,
        contributes: bool,
        hint: str | None,
        in_app: bool,
    ) -> Component:
        """Build a ``frame`` component on shared children, faster than ``__init__``.

        The component's ``values`` is ``frame.children`` itself, not a copy.
        """
        component = cls.__new__(cls)
        dict.__init__(
            component,
            id="frame",
            name=None,
            contributes=contributes,
            hint=hint,
            values=frame.children,
        )
        component.in_app = in_app
        component.frame_text = frame.text
        return component

    @property
    def id(self) -> str:
        return str(self["id"])

    @property
    def values_list(self) -> list[ComponentValue]:
        values: list[ComponentValue] = self["values"]
        return values

    @property
    def contributes(self) -> bool:
        return bool(self["contributes"])

    @property
    def hint(self) -> str | None:
        hint: str | None = self["hint"]
        return hint

    @hint.setter
    def hint(self, value: str | None) -> None:
        self["hint"] = value

    def update_component(
        self,
        *,
        values: Sequence[ComponentValue] | None = None,
        contributes: bool | None = None,
        hint: str | None = None,
    ) -> None:
        """Set new values, flag or hint; unset arguments keep the current ones.

        New values without an explicit flag recompute ``contributes``.
        """
        if values is not None:
            self["values"] = list(values)
            self.frame_text = None
            if contributes is None:
                contributes = _any_contributes(self["values"])
        if contributes is not None:
            self["contributes"] = contributes
        if hint is not None:
            self["hint"] = hint

    def children(self) -> Iterator[Component]:
        for value in self["values"]:
            if isinstance(value, Component):
                yield value

    def iter_values(self) -> Iterator[LeafValue]:
        """Yield the contributing leaf values in tree order."""
        leaves: list[LeafValue] = []
        _collect_leaves(self, leaves)
        return iter(leaves)

    def get_hash(self) -> str | None:
        """Return the md5 hex of the contributing leaves, or None if none."""
        if not self["contributes"]:
            return None
        leaves: list[LeafValue] = []
        _collect_leaves(self, leaves)
        return hash_from_values(leaves)

    def iter_subcomponents(self, id: str) -> Iterator[Component]:
        """Yield every component with this id in the subtree, self included."""
        if self["id"] == id:
            yield self
        for child in self.children():
            yield from child.iter_subcomponents(id)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (dict(self), self.in_app))


def _rebuild(data: dict[str, Any], in_app: bool | None) -> Component:
    component = Component.__new__(Component)
    dict.update(component, data)
    component.in_app = in_app
    component.frame_text = None
    return component


def _collect_leaves(component: Component, leaves: list[LeafValue]) -> None:
    if not component["contributes"]:
        return
    for value in component["values"]:
        if type(value) is not Component:
            leaves.append(value)
        elif value["contributes"]:
            frame_text = value.frame_text
            if frame_text is not None:
                # Hashing joins the leaves without a separator, so the
                # children's joined leaves stand for them.
                leaves.append(frame_text.leaf_text)
                continue
            children = value["values"]
            # Components hold either only child components or only leaves.
            if children and type(children[0]) is not Component:
                leaves.extend(children)
            else:
                _collect_leaves(value, leaves)


def _any_contributes(values: Iterable[ComponentValue]) -> bool:
    for value in values:
        if not isinstance(value, Component) or value["contributes"]:
            return True
    return False


def hash_from_values(values: Iterable[LeafValue]) -> str:
    """Return the md5 hex over the UTF-8 bytes of the values, concatenated."""
    text = "".join(map(str, values))
    return hashlib.md5(text.encode("utf-8", errors="replace")).hexdigest()
