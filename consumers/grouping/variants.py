"""Grouping variants: the hashes an event gets, with Sentry's variant names.

Component variants (``app``, ``system``, ``default``) hash their component
tree. A fingerprint without ``{{ default }}`` replaces them with one
``custom_fingerprint`` or ``built_in_fingerprint`` variant; a fingerprint
mixing ``{{ default }}`` with other values salts each component variant. A
checksum sent by the client replaces everything. ``fallback`` (md5 of
nothing) is added when no variant contributes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from consumers.grouping.component import Component, hash_from_values
from consumers.grouping.fingerprinting import (
    FingerprintDecision,
    is_default_variable,
    resolve_fingerprint_values,
)
from consumers.grouping.strategies import VariantRoots

_CHECKSUM_RE = re.compile(r"^[0-9a-f]{32}$", re.IGNORECASE)
_DESCRIPTIONS = {"app": "in-app", "system": "system", "default": "default"}


@dataclass(frozen=True)
class GroupingVariant:
    """One way of hashing an event.

    ``component`` is the component tree as Sentry's dict (None for variants
    without a tree); ``extra`` contains the keys Sentry adds for fingerprint and
    checksum variants (``values``, ``fingerprint_info``, ``checksum`` ...).
    """

    name: str
    hash: str | None
    contributes: bool
    component: dict[str, Any] | None
    type: str = "component"
    description: str = ""
    hint: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return Sentry's grouping-info shape of this variant."""
        data: dict[str, Any] = {
            "type": self.type,
            "description": self.description,
            "hash": self.hash,
            "hint": self.hint,
            "contributes": self.contributes,
            "key": self.name,
        }
        if self.component is not None:
            data["component"] = self.component
        data.update(self.extra)
        return data


def checksum_variants(checksum: str) -> dict[str, GroupingVariant]:
    """Return the variant of a client checksum: itself when md5-shaped, else its md5."""
    if _CHECKSUM_RE.match(checksum):
        variant = GroupingVariant(
            "checksum",
            checksum,
            True,
            None,
            "checksum",
            "legacy checksum",
            extra={"checksum": checksum},
        )
        return {"checksum": variant}
    hashed = hashlib.md5(checksum.encode("utf-8", errors="replace")).hexdigest()
    variant = GroupingVariant(
        "hashed_checksum",
        hashed,
        True,
        None,
        "hashed_checksum",
        "hashed legacy checksum",
        extra={"checksum": hashed, "raw_checksum": checksum},
    )
    return {"hashed_checksum": variant}


def fingerprint_variants(
    built: VariantRoots,
    decision: FingerprintDecision,
    event: Mapping[str, Any],
) -> dict[str, GroupingVariant]:
    """Combine the strategies' root components with the event's fingerprint."""
    roots = built.roots
    fingerprint = decision.fingerprint
    defaults = sum(1 for value in fingerprint if is_default_variable(value))
    variants: dict[str, GroupingVariant] = {}

    if defaults == 0:
        source = _fingerprint_source(decision)
        for name, root in roots.items():
            root.update_component(
                contributes=False, hint=f"ignored because {source} takes precedence"
            )
            variants[name] = _component_variant(name, root, built.hashes.get(name))
        values = resolve_fingerprint_values(fingerprint, event)
        kind = "built_in_fingerprint" if decision.is_builtin else "custom_fingerprint"
        variants[kind] = GroupingVariant(
            kind,
            hash_from_values(values),
            True,
            None,
            kind,
            "built-in fingerprint" if decision.is_builtin else "custom fingerprint",
            extra={"values": values, "fingerprint_info": decision.info},
        )
    elif defaults == 1 and len(fingerprint) == 1:
        for name, root in roots.items():
            variants[name] = _component_variant(
                name, root, built.hashes.get(name), info=decision.info or None
            )
    else:
        values = resolve_fingerprint_values(fingerprint, event)
        for name, root in roots.items():
            variants[name] = _salted_variant(name, root, values, decision.info)

    if not any(variant.contributes for variant in variants.values()):
        variants["fallback"] = GroupingVariant(
            "fallback", hashlib.md5(b"").hexdigest(), True, None, "fallback", "fallback"
        )
    return variants


def _fingerprint_source(decision: FingerprintDecision) -> str:
    if decision.is_builtin:
        return "built-in fingerprint"
    if "matched_rule" in decision.info:
        return "custom server fingerprint"
    return "custom client fingerprint"


def _component_variant(
    name: str,
    root: Component,
    known_hash: str | None,
    *,
    info: dict[str, Any] | None = None,
) -> GroupingVariant:
    hash_value = None
    if root.contributes:
        hash_value = known_hash or root.get_hash()
    extra = {"fingerprint_info": info} if info else {}
    return GroupingVariant(
        name,
        hash_value,
        hash_value is not None,
        root,
        "component",
        _DESCRIPTIONS.get(name, name),
        root.hint,
        extra,
    )


def _salted_variant(
    name: str, root: Component, values: list[str], info: dict[str, Any]
) -> GroupingVariant:
    hash_value = None
    if root.contributes:
        salted: list[str | int] = []
        for value in values:
            if is_default_variable(value):
                salted.extend(root.iter_values())
            else:
                salted.append(value)
        hash_value = hash_from_values(salted)
    return GroupingVariant(
        name,
        hash_value,
        hash_value is not None,
        root,
        "salted_component",
        f"{_DESCRIPTIONS.get(name, name)} and custom fingerprint",
        root.hint,
        {"values": values, "fingerprint_info": info},
    )
