"""Stack trace rules (Sentry's "enhancements"), evaluated by sentry-ophio.

Rules come in two kinds, which Sentry evaluates in two passes and so do we:

- classifier rules set ``in_app`` (``+app``/``-app``) and ``category``; they
  run once per stack trace before any component is built;
- contribution rules (``+group``/``-group``, ``max-frames``, ``min-frames``,
  ``invert-stacktrace``) decide which frame components count towards the hash.

A rule with actions of both kinds is split in two. Parsing takes a few
milliseconds, so `load_enhancements` caches the parsed rules per file.

The classifier pass costs a few microseconds per frame, and the same frames
recur across events. When no classifier rule looks at neighbouring frames
(caller or callee matchers) or changes them (``^`` and ``v`` ranges), each
frame's result depends only on the frame (and on the exception, for rules
with exception matchers), so `Enhancements.classify_frames` remembers it.

A frame's result depends only on its family, its starting in_app and
category, and the fields read by the rules that can match its family.
Most rules name one family, and frames of other families skip them. With
the default rules, for example, no rule that can match a Python frame
reads its function name. The memo is keyed by those fields alone, so
frames that differ in other fields share one entry.
"""

from __future__ import annotations

import functools
import operator
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentry_ophio.enhancers import Cache as RustCache
from sentry_ophio.enhancers import Enhancements as RustEnhancements

from consumers.grouping.errors import GroupingError
from consumers.grouping.memo import GenerationalMemo

DEFAULT_RULES_PATH = Path(__file__).parent / "rules" / "default.txt"

# Actions close a rule line: optional range marker (^ callers, v callees),
# a sign and a flag, or a variable assignment.
_ACTION_RE = re.compile(r"^(?:[\^v]?[+-](?:app|group)|[a-z-]+=\S*)$")
_TOKEN_RE = re.compile(r"\S+")
_CLASSIFIER_ACTION_RE = re.compile(r"^(?:[\^v]?[+-]app|category=\S*)$")

_RUST_CACHE = RustCache(2_000)

# Caller `[ matcher ] |` and callee `| [ matcher ]` syntax; a matcher value
# that merely looks like it only turns the classifier memo off.
_NEIGHBOUR_MATCHER_RE = re.compile(r"\]\s*\||\|\s*\[")
# A key starts a rule, or follows a space, a bracket, a bar or the closing
# quote of the previous matcher's value. Text inside a quoted value that
# looks like a key only makes the rules count as reading the exception.
_MATCHER_KEY_RE = re.compile(r'(?:^|[\s\[|"])!?"?([^\s:"\[|]+)"?:')
# sentry-ophio also accepts spaces around the "=" of a variable action
# ("max-frames = 3"). Outside quoted values, "=" appears only in actions.
_SPACED_ASSIGNMENT_RE = re.compile(r"([a-z-]+)\s*=\s*(?=\S)")
# Matcher keys that read only the frame itself.
_FRAME_MATCHER_KEYS = frozenset(
    {
        "path",
        "stack.abs_path",
        "module",
        "stack.module",
        "function",
        "stack.function",
        "package",
        "stack.package",
        "family",
        "app",
        "category",
    }
)
# The match frame field each frame matcher key reads.
_MATCHER_FIELDS = {
    "path": "path",
    "stack.abs_path": "path",
    "module": "module",
    "stack.module": "module",
    "function": "function",
    "stack.function": "function",
    "package": "package",
    "stack.package": "package",
    "family": "family",
    "app": "in_app",
    "category": "category",
}
# Every field of a match frame that a rule can read, and the fields that
# every classifier result depends on: the result carries the frame's
# starting in_app and category when no rule changes them.
_ALL_FIELDS = ("family", "in_app", "category", "path", "module", "function", "package")
_RESULT_FIELDS = ("family", "in_app", "category")
# The families of match frames, which `family:` matchers compare exactly.
_FAMILIES = ("native", "javascript", "other")
# One matcher of a rule as sentry-ophio reads it: optional "!", key, ":",
# and a value, either quoted (sentry-ophio has no escapes) or running to the
# next space, followed by a space or the end. A value may contain text that
# looks like another matcher, such as `function:a|family:native`.
_PLAIN_MATCHER_RE = re.compile(r'(!?)([A-Za-z0-9._-]+):("[^"]*"|[^\s"]\S*)(?=\s|$)')
# Classifier results per generation of a rule set's memo, which keeps up to
# two. An entry takes an estimated few hundred bytes.
CLASSIFIED_FRAMES_PER_GENERATION = 4_096

ClassifierResult = tuple[str | None, bool | None]


@dataclass(frozen=True)
class Enhancements:
    """Parsed stack trace rules, split into the classifier and contribution passes.

    ``source`` names the file or text the rules came from and ``text`` is the
    rules text. Pickling sends the text, and unpickling parses it again, so
    the rules can be handed to worker processes.
    """

    classifier: RustEnhancements
    contributes: RustEnhancements
    source: str
    text: str
    # Whether classifier results may be remembered per frame, and whether
    # the exception is part of what they depend on.
    classifier_per_frame: bool = False
    classifier_reads_exception: bool = True
    # Whether a contribution rule caps the contributing frames (max-frames).
    # The cap counts every contributing frame, so a frame's flag then depends
    # on its neighbours' flags, which differ between the app and the system
    # variant. Without a cap, an in-app frame's flag is the same in both.
    limits_contributing_frames: bool = True
    # Family, as match frames spell it, to the getter of the fields that
    # decide the classifier result of its frames (family first).
    classifier_key_getters: dict[bytes, Callable[[dict[str, Any]], Any]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _classified: GenerationalMemo[tuple[Any, ...], ClassifierResult] = field(
        default_factory=lambda: GenerationalMemo(CLASSIFIED_FRAMES_PER_GENERATION),
        compare=False,
        repr=False,
    )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_parse_for_unpickle, (self.text, self.source))

    @classmethod
    def parse(cls, text: str, *, source: str = "<text>") -> Enhancements:
        """Parse rules text; raise GroupingError naming the invalid rule and line."""
        classifier_lines: list[str] = []
        contributes_lines: list[str] = []
        per_frame = True
        reads_exception = False
        limits_frames = False
        fields_by_family = {family: set(_RESULT_FIELDS) for family in _FAMILIES}
        for number, raw_line in enumerate(text.splitlines(), start=1):
            line = _strip_comment(raw_line).strip()
            if not line:
                continue
            matchers, actions = _split_rule(line)
            if not actions or not matchers:
                raise GroupingError(
                    f"invalid stack trace rule at {source}:{number}: {line!r} "
                    "needs matchers followed by at least one action"
                )
            classifier_actions = [a for a in actions if _CLASSIFIER_ACTION_RE.match(a)]
            other_actions = [a for a in actions if not _CLASSIFIER_ACTION_RE.match(a)]
            if classifier_actions:
                if _NEIGHBOUR_MATCHER_RE.search(matchers) or any(
                    action[0] in "^v" for action in classifier_actions
                ):
                    per_frame = False
                keys = _MATCHER_KEY_RE.findall(matchers)
                if not keys or not _FRAME_MATCHER_KEYS.issuperset(keys):
                    reads_exception = True
                read = {_MATCHER_FIELDS.get(key, "") for key in keys}
                if "" in read:  # a key that reads no single known frame field
                    read = set(_ALL_FIELDS)
                for family in _rule_families(matchers):
                    fields_by_family[family] |= read
            if any(action.startswith("max-frames=") for action in other_actions):
                limits_frames = True
            for kept, lines in (
                (classifier_actions, classifier_lines),
                (other_actions, contributes_lines),
            ):
                if kept:
                    rule = " ".join([matchers, *kept])
                    # Parsing each rule alone names the line of an error; the
                    # engine's cache makes the parse of the whole set cheap.
                    _parse_rust(rule, f"{source}:{number}")
                    lines.append(rule)
        return cls(
            classifier=_parse_rust("\n".join(classifier_lines), source),
            contributes=_parse_rust("\n".join(contributes_lines), source),
            source=source,
            text=text,
            classifier_per_frame=per_frame,
            classifier_reads_exception=reads_exception,
            limits_contributing_frames=limits_frames,
            classifier_key_getters={
                family.encode(): _fields_getter(fields)
                for family, fields in fields_by_family.items()
            },
        )

    def clear_classified_frames(self) -> None:
        """Forget the remembered classifier results (they are recomputed)."""
        self._classified.clear()

    def classify_frames(
        self,
        frames: list[dict[str, Any]],
        exception_data: dict[str, bytes | None],
    ) -> list[ClassifierResult]:
        """Return ``apply_modifications_to_frames`` of the classifier rules.

        ``frames`` are match frames (sentry-ophio's shape), oldest first; the
        result has the final category and in_app of each. Results are
        remembered per frame when the rules allow it (see the module
        docstring), so only frames not seen before reach the rules engine.
        """
        if not self.classifier_per_frame:
            return list(
                self.classifier.apply_modifications_to_frames(frames, exception_data)
            )
        getters = self.classifier_key_getters
        every_field = _EVERY_FIELD_GETTER
        keys = [getters.get(frame["family"], every_field)(frame) for frame in frames]
        if self.classifier_reads_exception:
            exception_key = tuple(exception_data.values())
            keys = [(exception_key, key) for key in keys]
        known = self._classified
        recent = known.recent
        results: list[ClassifierResult | None] = [recent.get(key) for key in keys]
        missing = []
        for index, result in enumerate(results):
            if result is None:
                # Not in the recent generation, so try the old one.
                result = results[index] = known.get(keys[index])
                if result is None:
                    missing.append(index)
        if missing:
            computed = self.classifier.apply_modifications_to_frames(
                [frames[index] for index in missing], exception_data
            )
            for index, result in zip(missing, computed, strict=True):
                results[index] = result
                known.put(keys[index], result)
        return results  # type: ignore[return-value]  # no None is left


def _rule_families(matchers: str) -> tuple[str, ...]:
    """Return the frame families a classifier rule can match.

    A positive `family:` matcher limits the rule to the families it lists
    (all of them for ``all``). A negated one or one in another spelling
    limits nothing, and so does any family matcher of a rule that is not a
    sequence of `_PLAIN_MATCHER_RE` matchers. That is safe, because the memo
    then keys the frames by more fields than needed.
    """
    families = set(_FAMILIES)
    position = 0
    text = matchers.strip()
    while position < len(text):
        matcher = _PLAIN_MATCHER_RE.match(text, position)
        if matcher is None:
            return _FAMILIES
        negated, key, value = matcher.groups()
        if key == "family" and not negated:
            listed = set(value.strip('"').split(","))
            if "all" not in listed and listed.issubset(_FAMILIES):
                families &= listed
        position = matcher.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return tuple(family for family in _FAMILIES if family in families)


def _fields_getter(fields: set[str]) -> Callable[[dict[str, Any]], Any]:
    # In a fixed order, family first, so keys of different families differ.
    return operator.itemgetter(*(name for name in _ALL_FIELDS if name in fields))


_EVERY_FIELD_GETTER = operator.itemgetter(*_ALL_FIELDS)


def _parse_for_unpickle(text: str, source: str) -> Enhancements:
    return Enhancements.parse(text, source=source)


def _strip_comment(line: str) -> str:
    """Drop a ``#`` comment that is not inside a quoted matcher value."""
    quoted = False
    for index, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif char == "#" and not quoted and (index == 0 or line[index - 1].isspace()):
            return line[:index]
    return line


def _split_rule(line: str) -> tuple[str, list[str]]:
    """Split a rule into its matchers text (kept verbatim) and its actions."""
    line = _join_spaced_assignments(line)
    tokens = list(_TOKEN_RE.finditer(line))
    actions: list[str] = []
    while tokens and _ACTION_RE.match(tokens[-1].group()):
        actions.insert(0, tokens.pop().group())
    matchers = line[: tokens[-1].end()] if tokens else ""
    return matchers, actions


def _join_spaced_assignments(line: str) -> str:
    """Write each variable action outside quoted values as one token
    ("max-frames = 3" as "max-frames=3"), as `_ACTION_RE` expects."""
    parts = line.split('"')
    # Even-numbered parts lie outside quotes, as `_strip_comment` reads them.
    for index in range(0, len(parts), 2):
        parts[index] = _SPACED_ASSIGNMENT_RE.sub(r"\1=", parts[index])
    return '"'.join(parts)


def _parse_rust(text: str, source: str) -> RustEnhancements:
    try:
        return RustEnhancements.parse(text, _RUST_CACHE)
    except RuntimeError as error:  # ophio reports parse errors as RuntimeError
        raise GroupingError(f"invalid stack trace rule in {source}: {error}") from error


def load_enhancements(path: str | Path | None = None) -> Enhancements:
    """Load and cache the rules file at ``path`` (None: the project's default rules).

    Raises GroupingError when the file cannot be read or contains an invalid rule.
    """
    if path is None:
        return _load_default()
    return _load_cached(os.fspath(Path(path).resolve()))


@functools.lru_cache(maxsize=1)
def _load_default() -> Enhancements:
    # Skips resolving the path on every call, since callers that pass no
    # rules may call this once per event.
    return _load_cached(os.fspath(DEFAULT_RULES_PATH.resolve()))


@functools.lru_cache(maxsize=16)
def _load_cached(path: str) -> Enhancements:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise GroupingError(
            f"cannot read stack trace rules file {path}: {error.strerror}"
        ) from error
    return Enhancements.parse(text, source=path)
