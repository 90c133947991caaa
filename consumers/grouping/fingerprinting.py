"""Fingerprints: client fingerprints, server fingerprint rules and their variables.

A fingerprint is a list of strings. ``{{ default }}`` stands for the hash the
strategies compute; other ``{{ name }}`` variables are replaced with event
values (``{{ type }}``, ``{{ message }}``, ``{{ tags.x }}`` ...). Server rules
(``matchers -> fingerprint``) replace the client's fingerprint when they
match; the project's built-in rules do so only when the client sent none.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consumers.grouping.errors import GroupingError
from consumers.grouping.fingerprint_matchers import (
    EventFacts,
    crash_frame,
    event_tags,
    family_matches,
    get_path,
    last_exception,
    matcher_cost,
    matcher_holds,
    text_or_none,
)

BUILT_IN_RULES_PATH = Path(__file__).parent / "rules" / "fingerprints.txt"

_DEFAULT_VARIABLE_RE = re.compile(r"(?i)^\{\{\s*default\s*\}\}$")
_VARIABLE_RE = re.compile(r"\{\{\s*(\S+?)\s*\}\}")
_MATCHER_RE = re.compile(r'(!?[a-zA-Z_.]+):(?:"((?:[^"\\]|\\.)*)"|(\S+))\s*')
# Matcher keys that have an older short alias; rules are stored with the short one.
_KEY_ALIASES = {
    "error.type": "type",
    "error.value": "value",
    "stack.abs_path": "path",
    "stack.module": "module",
    "stack.function": "function",
    "stack.package": "package",
}


def is_default_variable(value: object) -> bool:
    return isinstance(value, str) and _DEFAULT_VARIABLE_RE.match(value) is not None


def is_default_fingerprint(fingerprint: Sequence[str]) -> bool:
    """Return whether ``fingerprint`` is ``{{ default }}`` alone, which groups
    by the strategies' hashes unchanged."""
    return len(fingerprint) == 1 and is_default_variable(fingerprint[0])


@dataclass(frozen=True)
class FingerprintRule:
    """One ``matchers -> fingerprint`` rule; matchers are (key, glob), ``!`` negates."""

    matchers: tuple[tuple[str, str], ...]
    fingerprint: tuple[str, ...]
    attributes: Mapping[str, Any] = field(default_factory=dict)
    is_builtin: bool = False

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], *, is_builtin: bool = False
    ) -> FingerprintRule:
        try:
            matchers = tuple(
                (_KEY_ALIASES.get(str(key), str(key)), str(pattern))
                for key, pattern in data["matchers"]
            )
            fingerprint = tuple(str(value) for value in data["fingerprint"])
        except (KeyError, TypeError, ValueError) as error:
            raise GroupingError(
                f"invalid fingerprint rule {data!r}: {error}"
            ) from error
        return cls(
            matchers, fingerprint, dict(data.get("attributes") or {}), is_builtin
        )

    @property
    def text(self) -> str:
        matchers = " ".join(f'{key}:"{pattern}"' for key, pattern in self.matchers)
        attributes = "".join(
            f' {key}="{value}"' for key, value in sorted(self.attributes.items())
        )
        return f'{matchers} -> "{"".join(self.fingerprint)}"{attributes}'

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "attributes": dict(self.attributes),
            "fingerprint": list(self.fingerprint),
            "matchers": [list(matcher) for matcher in self.matchers],
            "text": self.text,
        }
        if self.is_builtin:
            data["is_builtin"] = True
        return data

    @functools.cached_property
    def _ordered_matchers(self) -> tuple[tuple[str, str], ...]:
        # Cheap and selective matchers run first, those reading frames last.
        return tuple(
            sorted(self.matchers, key=lambda matcher: matcher_cost(matcher[0]))
        )

    @functools.cached_property
    def required_family(self) -> str | None:
        """The pattern of the rule's first (not negated) family matcher, if any."""
        for key, pattern in self.matchers:
            if key == "family":
                return pattern
        return None

    def matches(self, event: Mapping[str, Any] | EventFacts) -> bool:
        facts = event if isinstance(event, EventFacts) else EventFacts(event)
        for key, pattern in self._ordered_matchers:
            if not matcher_holds(key, pattern, facts):
                return False
        return True


def parse_rules_text(text: str, *, is_builtin: bool) -> list[FingerprintRule]:
    """Parse rules of the form ``key:"glob" key:glob -> part, part``."""
    rules: list[FingerprintRule] = []
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        left, arrow, right = line.partition("->")
        matchers = [
            (
                _KEY_ALIASES.get(key, key),
                quoted if quoted is not None and quoted != "" else bare,
            )
            for key, quoted, bare in _MATCHER_RE.findall(left)
        ]
        fingerprint = [part.strip() for part in right.split(",") if part.strip()]
        if not arrow or not matchers or not fingerprint:
            raise GroupingError(
                f"invalid fingerprint rule on line {number}: {line!r} "
                "needs matchers, '->' and at least one fingerprint value"
            )
        rules.append(
            FingerprintRule(tuple(matchers), tuple(fingerprint), {}, is_builtin)
        )
    return rules


def load_built_in_rules() -> list[FingerprintRule]:
    return parse_rules_text(
        BUILT_IN_RULES_PATH.read_text(encoding="utf-8"), is_builtin=True
    )


@dataclass(frozen=True)
class FingerprintDecision:
    """The fingerprint to group by, and the ``_fingerprint_info`` to report."""

    fingerprint: list[str]
    info: dict[str, Any]
    is_builtin: bool


def decide_fingerprint(
    event: Mapping[str, Any], rules: Sequence[FingerprintRule]
) -> FingerprintDecision:
    """Apply the first matching rule to the client fingerprint, as Sentry does."""
    raw = event.get("fingerprint")
    client = [str(value) for value in raw] if isinstance(raw, list) and raw else []
    client_is_default = len(client) == 1 and is_default_variable(client[0])
    info: dict[str, Any] = {}
    if client and not client_is_default:
        info["client_fingerprint"] = client
    fingerprint = client or ["{{ default }}"]
    is_builtin = False
    facts = EventFacts(event)
    # Rules usually share their family matcher and most events fail it, so
    # it is tested once per pattern before the rest of each rule.
    family_results: dict[str, bool] = {}
    for rule in rules:
        family = rule.required_family
        if family is not None:
            matched = family_results.get(family)
            if matched is None:
                matched = family_results[family] = family_matches(family, facts)
            if not matched:
                continue
        if not rule.matches(facts):
            continue
        # A built-in rule never overrides a fingerprint the client chose.
        if rule.is_builtin and client and not client_is_default:
            break
        fingerprint = list(rule.fingerprint)
        info["matched_rule"] = rule.to_json()
        is_builtin = rule.is_builtin
        break
    return FingerprintDecision(fingerprint, info, is_builtin)


def resolve_fingerprint_values(
    fingerprint: Sequence[str], event: Mapping[str, Any]
) -> list[str]:
    """Replace variables other than ``{{ default }}`` with the event's values."""
    resolved = []
    for value in fingerprint:
        if is_default_variable(value):
            resolved.append(value)
        else:
            resolved.append(
                _VARIABLE_RE.sub(
                    lambda match: variable_value(match.group(1), event), value
                )
            )
    return resolved


def variable_value(name: str, event: Mapping[str, Any]) -> str:
    """Return the value of one fingerprint variable, or its ``<no-...>`` placeholder."""
    exception = last_exception(event)
    if name == "transaction":
        return text_or_none(event.get("transaction")) or "<no-transaction>"
    if name == "message":
        message = (
            text_or_none(get_path(event, "logentry", "formatted"))
            or text_or_none(get_path(event, "logentry", "message"))
            or text_or_none(exception.get("value"))
        )
        return message or "<no-message>"
    if name in ("type", "error.type"):
        return text_or_none(exception.get("type")) or "<no-type>"
    if name in ("value", "error.value"):
        return text_or_none(exception.get("value")) or "<no-value>"
    if name in ("level", "logger"):
        return text_or_none(event.get(name)) or f"<no-{name}>"
    if name.startswith("tags."):
        tag = name[5:]
        for key, value in event_tags(event):
            if key == tag and value is not None:
                return value
        return f"<no-value-for-tag-{tag}>"
    frame = crash_frame(event)
    if name in ("function", "stack.function"):
        return text_or_none(frame.get("function")) or "<no-function>"
    if name in ("path", "stack.abs_path"):
        return (
            text_or_none(frame.get("abs_path"))
            or text_or_none(frame.get("filename"))
            or "<no-abs-path>"
        )
    if name in ("module", "stack.module"):
        return text_or_none(frame.get("module")) or "<no-module>"
    if name in ("package", "stack.package"):
        package = text_or_none(frame.get("package"))
        if package:
            package = package.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
        return package or "<no-package>"
    return f"<unknown-variable-{name}>"
