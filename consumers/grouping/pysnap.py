"""Reading Sentry's grouping snapshot files (``.pysnap``) and rendering trees alike.

A snapshot starts with YAML front matter between ``---`` lines, then lists
variants separated by a line of dashes. Each variant has ``hash`` and
optionally ``contributing component`` and ``hint``. Component variants then
list their tree under ``root_component:`` or ``component:``: two spaces per
level, ``*`` after a contributing node, the hint in parentheses and leaves as
JSON values. Fingerprint and checksum variants list their own keys instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

_SEPARATOR_RE = re.compile(r"^-{20,}$")
_TREE_KEYS = ("root_component:", "component:")


@dataclass
class SnapshotVariant:
    """One variant as the snapshot records it."""

    name: str
    hash: str | None = None
    contributing_component: str | None = None
    hint: str | None = None
    tree: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)


def parse_snapshot(text: str) -> dict[str, SnapshotVariant]:
    """Parse a ``.pysnap`` file; raise ValueError naming the line that does not fit."""
    lines = text.splitlines()
    if not lines or lines[0] != "---":
        raise ValueError("snapshot does not start with '---' front matter")
    try:
        body_start = lines.index("---", 1) + 1
    except ValueError as error:
        raise ValueError("snapshot front matter is not closed by '---'") from error

    variants: dict[str, SnapshotVariant] = {}
    current: SnapshotVariant | None = None
    in_tree = False
    for number, line in enumerate(lines[body_start:], start=body_start + 1):
        if not line.strip():
            continue
        if _SEPARATOR_RE.match(line):
            current, in_tree = None, False
            continue
        if not line.startswith(" "):
            if not line.endswith(":"):
                raise ValueError(
                    f"line {number}: expected a variant name, got {line!r}"
                )
            current = SnapshotVariant(line[:-1])
            variants[current.name] = current
            in_tree = False
            continue
        if current is None:
            raise ValueError(f"line {number}: value outside a variant: {line!r}")
        if in_tree and line.startswith("    "):
            current.tree.append(line[4:])
            continue
        in_tree = False
        key, _, value = line.strip().partition(": ")
        if line.strip() in _TREE_KEYS:
            in_tree = True
        elif key == "hash":
            current.hash = None if value == "null" else json.loads(value)
        elif key == "contributing component":
            current.contributing_component = None if value == "null" else value
        elif key == "hint":
            current.hint = None if value == "None" else value
        else:
            current.fields[key] = value
    return variants


def render_tree(component: Mapping[str, Any]) -> list[str]:
    """Render a component dict as snapshot tree lines (root at indent 0)."""
    return list(_render(component, 0))


def _render(component: Mapping[str, Any], depth: int) -> Iterator[str]:
    # Snapshots leave out components that have neither values nor a hint.
    if not component.get("values") and not component.get("hint"):
        return
    label = str(component["id"])
    if component.get("contributes"):
        label += "*"
    if component.get("hint"):
        label += f" ({component['hint']})"
    yield "  " * depth + label
    for value in component.get("values") or []:
        if isinstance(value, Mapping):
            yield from _render(value, depth + 1)
        else:
            yield "  " * (depth + 1) + json.dumps(value, ensure_ascii=False)


def contributing_component(component: Mapping[str, Any]) -> str | None:
    """Return the id of the root's first contributing child, as snapshots list it."""
    for value in component.get("values") or []:
        if isinstance(value, Mapping) and value.get("contributes"):
            return str(value["id"])
    return None
