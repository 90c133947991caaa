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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentry_ophio.glob import is_glob_match

from consumers.grouping.errors import GroupingError
from consumers.grouping.platforms import behavior_family

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
            sorted(self.matchers, key=lambda matcher: _matcher_cost(matcher[0]))
        )

    def matches(self, event: Mapping[str, Any] | EventFacts) -> bool:
        facts = event if isinstance(event, EventFacts) else EventFacts(event)
        for key, pattern in self._ordered_matchers:
            if not _matcher_holds(key, pattern, facts):
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
    for rule in rules:
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
    last_exception = _last_exception(event)
    if name == "transaction":
        return _text(event.get("transaction")) or "<no-transaction>"
    if name == "message":
        message = (
            _text(_get(event, "logentry", "formatted"))
            or _text(_get(event, "logentry", "message"))
            or _text(last_exception.get("value"))
        )
        return message or "<no-message>"
    if name in ("type", "error.type"):
        return _text(last_exception.get("type")) or "<no-type>"
    if name in ("value", "error.value"):
        return _text(last_exception.get("value")) or "<no-value>"
    if name in ("level", "logger"):
        return _text(event.get(name)) or f"<no-{name}>"
    if name.startswith("tags."):
        tag = name[5:]
        for key, value in _tags(event):
            if key == tag and value is not None:
                return value
        return f"<no-value-for-tag-{tag}>"
    frame = _crash_frame(event)
    if name in ("function", "stack.function"):
        return _text(frame.get("function")) or "<no-function>"
    if name in ("path", "stack.abs_path"):
        return (
            _text(frame.get("abs_path"))
            or _text(frame.get("filename"))
            or "<no-abs-path>"
        )
    if name in ("module", "stack.module"):
        return _text(frame.get("module")) or "<no-module>"
    if name in ("package", "stack.package"):
        package = _text(frame.get("package"))
        if package:
            package = package.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
        return package or "<no-package>"
    return f"<unknown-variable-{name}>"


_FRAME_KEYS = frozenset({"family", "app", "function", "module", "path", "package"})


def _matcher_cost(key: str) -> int:
    # Matchers have no side effects, so their order changes only the cost.
    # The family usually follows from the event's platform alone and rejects
    # most events at once, so it goes first.
    key = key.lstrip("!")
    if key == "family":
        return 0
    if key in ("type", "value", "message"):
        return 1
    if key in _FRAME_KEYS:
        return 3
    return 2


class EventFacts:
    """The parts of an event that fingerprint matchers read, collected once."""

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.event = event
        # Family pattern -> result; every built-in rule tests the same family.
        self.family_matches: dict[str, bool] = {}

    @functools.cached_property
    def exceptions(self) -> list[Mapping[str, Any]]:
        return _exceptions(self.event)

    @functools.cached_property
    def frames(self) -> list[Mapping[str, Any]]:
        return list(_frames(self.event))

    @functools.cached_property
    def families(self) -> set[str]:
        platforms = {self.event.get("platform")}
        # Reads the frames directly: this runs for every event and every
        # built-in rule needs it, while `frames` is rarely needed.
        for stacktrace in _stacktraces(self.event):
            frames = stacktrace.get("frames")
            if isinstance(frames, list):
                platforms.update(
                    [frame.get("platform") for frame in frames if type(frame) is dict]
                )
                platforms.update(
                    [
                        frame.get("platform")
                        for frame in frames
                        if type(frame) is not dict and isinstance(frame, Mapping)
                    ]
                )
        return {behavior_family(p) for p in platforms if isinstance(p, str) and p}

    @functools.cached_property
    def messages(self) -> list[str]:
        logentry = _text(_get(self.event, "logentry", "formatted")) or _text(
            _get(self.event, "logentry", "message")
        )
        values = [_text(exception.get("value")) for exception in self.exceptions]
        return [message for message in [logentry, *values] if message is not None]


def _matcher_holds(key: str, pattern: str, facts: EventFacts) -> bool:
    negated = key.startswith("!")
    key = key.lstrip("!")
    return _any_value_matches(key, pattern, facts) != negated


def _any_value_matches(key: str, pattern: str, facts: EventFacts) -> bool:
    event = facts.event
    if key == "family":
        known = facts.family_matches.get(pattern)
        if known is None:
            known = _family_matches(pattern, facts)
            facts.family_matches[pattern] = known
        return known
    if key in ("type", "value"):
        return any(
            is_glob_match(value, pattern, case_insensitive=key == "value")
            for exception in facts.exceptions
            if (value := _text(exception.get(key))) is not None
        )
    if key == "message":
        return any(
            is_glob_match(message, pattern, case_insensitive=True)
            for message in facts.messages
        )
    if key in ("level", "logger", "release", "transaction"):
        value = _text(event.get(key))
        return value is not None and is_glob_match(
            value, pattern, case_insensitive=True
        )
    if key == "sdk":
        value = _text(_get(event, "sdk", "name"))
        return value is not None and is_glob_match(value, pattern)
    if key.startswith("tags."):
        tag = key[5:]
        return any(
            k == tag and v is not None and is_glob_match(v, pattern)
            for k, v in _tags(event)
        )
    return any(_frame_matches(key, pattern, frame) for frame in facts.frames)


def _family_matches(pattern: str, facts: EventFacts) -> bool:
    families = set(pattern.split(","))
    if "all" in families:
        return True
    platform = facts.event.get("platform")
    if behavior_family(platform if isinstance(platform, str) else None) in families:
        return True
    return not families.isdisjoint(facts.families)


def _frame_matches(key: str, pattern: str, frame: Mapping[str, Any]) -> bool:
    if key == "app":
        in_app = frame.get("in_app")
        return in_app is not None and bool(in_app) == (
            pattern.lower() in ("1", "yes", "true")
        )
    if key == "function":
        value = _text(frame.get("function"))
        return value is not None and is_glob_match(value, pattern)
    if key == "module":
        value = _text(frame.get("module"))
        return value is not None and is_glob_match(value, pattern, double_star=True)
    if key in ("path", "package"):
        fields = ("abs_path", "filename") if key == "path" else ("package",)
        for name in fields:
            value = _text(frame.get(name))
            if value is None:
                continue
            for candidate in (
                value,
                "/" + value if not value.startswith("/") else value,
            ):
                if is_glob_match(
                    candidate,
                    pattern,
                    double_star=True,
                    case_insensitive=True,
                    path_normalize=True,
                ):
                    return True
    return False


def _exceptions(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    values = _get(event, "exception", "values")
    return (
        [v for v in values if isinstance(v, Mapping)]
        if isinstance(values, list)
        else []
    )


def _last_exception(event: Mapping[str, Any]) -> Mapping[str, Any]:
    exceptions = _exceptions(event)
    return exceptions[-1] if exceptions else {}


def _stacktraces(event: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for exception in _exceptions(event):
        if isinstance(exception.get("stacktrace"), Mapping):
            yield exception["stacktrace"]
    if isinstance(event.get("stacktrace"), Mapping):
        yield event["stacktrace"]
    threads = _get(event, "threads", "values")
    for thread in threads if isinstance(threads, list) else []:
        if isinstance(thread, Mapping) and isinstance(
            thread.get("stacktrace"), Mapping
        ):
            yield thread["stacktrace"]


def _frames(event: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for stacktrace in _stacktraces(event):
        frames = stacktrace.get("frames")
        if isinstance(frames, list):
            # Decoded JSON holds plain dicts, and the type check is far
            # cheaper than the Mapping one.
            yield from (
                frame
                for frame in frames
                if type(frame) is dict or isinstance(frame, Mapping)
            )


def _crash_frame(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return the latest in-app frame of the top stack trace, else its latest frame.

    The top stack trace is the last exception's, else the event's own, else
    that of the only thread.
    """
    frames = _get(event, "exception", "values", -1, "stacktrace", "frames") or _get(
        event, "stacktrace", "frames"
    )
    if not frames:
        threads = _get(event, "threads", "values")
        if isinstance(threads, list) and len(threads) == 1:
            frames = (
                _get(threads[0], "stacktrace", "frames")
                if isinstance(threads[0], Mapping)
                else None
            )
    fallback: Mapping[str, Any] = {}
    for frame in reversed(frames if isinstance(frames, list) else []):
        if not isinstance(frame, Mapping):
            continue
        if frame.get("in_app"):
            return frame
        if not fallback:
            fallback = frame
    return fallback


def _tags(event: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    tags = event.get("tags")
    items = (
        tags.items()
        if isinstance(tags, Mapping)
        else tags
        if isinstance(tags, list)
        else []
    )
    for item in items:
        if isinstance(item, (list, tuple)) and len(item) == 2:
            yield str(item[0]), _text(item[1])


def _get(data: Mapping[str, Any], *path: str | int) -> Any:
    current: Any = data
    for key in path:
        if isinstance(key, int):
            if not isinstance(current, list) or not current:
                return None
            current = current[key]
        elif isinstance(current, Mapping):
            current = current.get(key)
        else:
            return None
    return current


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
