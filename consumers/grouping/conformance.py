"""Conformance of our grouping with Sentry's recorded snapshots.

Each reference input is an event; its snapshot lists Sentry's variants with
hashes and component trees. The runner prepares the event as Sentry's test
harness does (normalise, apply the input's fingerprint rules, use Sentry's
base stack trace rules), computes our variants and compares hash by hash
and tree line by tree line. The reference data lives outside the repository
under ``$SEER_BACKFILL_SHARED_DIR/reference/sentry-grouping``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consumers.grouping.api import calculate_grouping
from consumers.grouping.enhancements import Enhancements, load_enhancements
from consumers.grouping.errors import GroupingError
from consumers.grouping.fingerprinting import FingerprintRule
from consumers.grouping.normalize import normalize_event
from consumers.grouping.pysnap import SnapshotVariant, parse_snapshot, render_tree

REPO_ROOT = Path(__file__).resolve().parents[2]
# Sentry's base rules for this config. The newer "all-platforms" file uses
# matchers (stack.filename) that sentry-ophio 1.2 cannot parse.
REFERENCE_RULES = "newstyle@2023-01-11.txt"

# Snapshots were recorded by different Sentry versions, which worded some
# hints differently; the older wordings compare equal to the current ones.
_WORDING_VARIANTS = (
    ("built-in stack trace rule", "stack trace rule"),
    ("built-in stacktrace rule", "stack trace rule"),
    ("stacktrace rule", "stack trace rule"),
    ("(module takes precedence)", "(ignored because module takes precedence)"),
)

# Inputs whose hashes cannot match their snapshot, with the reason.
KNOWN_HASH_DIFFERENCES: dict[str, str] = {}

# Inputs whose hashes match but whose snapshot tree shows a hint that the
# current Sentry code no longer produces, with the reason.
KNOWN_TREE_DIFFERENCES: dict[str, str] = {
    "cocoa_dispatch_client_callout": (
        "the snapshot predates the restoring of in_app from data.orig_in_app before "
        "the rules run; Sentry now credits the client, not the +app rule, for a frame "
        "whose client value the rule confirms"
    ),
    "javascript_single_url_frame": (
        "the snapshot predates the check that the lone frame contributes before it "
        "is marked 'ignored single non-URL JavaScript frame'; its only child (a URL "
        "file name) does not contribute, so current Sentry adds no hint"
    ),
}


def default_shared_dir() -> Path:
    """Return ``$SEER_BACKFILL_SHARED_DIR``, default ``<repo>/../shared``."""
    configured = os.environ.get("SEER_BACKFILL_SHARED_DIR")
    return Path(configured) if configured else REPO_ROOT.parent / "shared"


@dataclass(frozen=True)
class VariantComparison:
    """Expected against computed for one variant; a missing side is None."""

    name: str
    expected_hash: str | None
    actual_hash: str | None
    present_expected: bool
    present_actual: bool
    first_difference: str | None

    @property
    def hash_matches(self) -> bool:
        return (
            self.present_expected == self.present_actual
            and self.expected_hash == self.actual_hash
        )


@dataclass(frozen=True)
class CaseResult:
    """The comparison of one reference input with its snapshot."""

    name: str
    variants: list[VariantComparison] = field(default_factory=list)
    error: str | None = None
    known_reason: str | None = None

    def variant(self, name: str) -> VariantComparison | None:
        for comparison in self.variants:
            if comparison.name == name:
                return comparison
        return None

    def hash_matches(self, name: str) -> bool:
        comparison = self.variant(name)
        return self.error is None and (comparison is None or comparison.hash_matches)

    @property
    def all_hashes_match(self) -> bool:
        return self.error is None and all(c.hash_matches for c in self.variants)

    @property
    def trees_match(self) -> bool:
        return self.error is None and all(
            c.first_difference is None for c in self.variants
        )


@dataclass(frozen=True)
class ConformanceReport:
    """Per-input results and the overall match rates."""

    cases: list[CaseResult]

    def rate(self, variant: str) -> float:
        if not self.cases:
            return 0.0
        return sum(case.hash_matches(variant) for case in self.cases) / len(self.cases)

    @property
    def all_hashes_rate(self) -> float:
        if not self.cases:
            return 0.0
        return sum(case.all_hashes_match for case in self.cases) / len(self.cases)

    def format_table(self) -> str:
        """Return a plain-text table: one row per input, then the rates."""
        width = max((len(case.name) for case in self.cases), default=4)
        lines = [f"{'input':<{width}}  app  system  all  trees  note"]
        for case in self.cases:
            note = case.error or _first_difference(case) or ""
            if note and case.known_reason:
                note += f" [known: {case.known_reason}]"
            lines.append(
                f"{case.name:<{width}}  {_mark(case.hash_matches('app')):<3}  "
                f"{_mark(case.hash_matches('system')):<6}  "
                f"{_mark(case.all_hashes_match):<3}  "
                f"{_mark(case.trees_match):<5}  {note}"
            )
        lines.append("")
        lines.append(
            f"app hashes match:    {self.rate('app'):.1%} of {len(self.cases)} inputs"
        )
        lines.append(f"system hashes match: {self.rate('system'):.1%}")
        lines.append(f"all hashes match:    {self.all_hashes_rate:.1%}")
        return "\n".join(lines)


def _mark(ok: bool) -> str:
    return "ok" if ok else "FAIL"


def _first_difference(case: CaseResult) -> str | None:
    for comparison in case.variants:
        if not comparison.hash_matches:
            return (
                f"{comparison.name}: hash {comparison.actual_hash} != "
                f"{comparison.expected_hash}; "
                f"{comparison.first_difference or 'same tree'}"
            )
    for comparison in case.variants:
        if comparison.first_difference is not None:
            return f"{comparison.name}: {comparison.first_difference}"
    return None


def _known_reason(name: str) -> str | None:
    return KNOWN_HASH_DIFFERENCES.get(name) or KNOWN_TREE_DIFFERENCES.get(name)


def load_reference_enhancements(shared: Path) -> Enhancements:
    path = (
        shared
        / "reference"
        / "sentry-grouping"
        / "enhancement-configs"
        / REFERENCE_RULES
    )
    return load_enhancements(path)


def prepare_input(
    data: Mapping[str, Any],
) -> tuple[dict[str, Any], list[FingerprintRule]]:
    """Split a reference input into the normalised event and its fingerprint rules."""
    raw = dict(data)
    rules_json = raw.pop("_fingerprinting_rules", None) or []
    raw.pop("_grouping", None)
    rules = [FingerprintRule.from_json(rule) for rule in rules_json]
    # sentry-relay 0.10 treats HPKP and Expect-CT reports as unknown attributes
    # and drops them. Keeping unknown attributes lets those strategies be
    # checked, and it changes no other input's result.
    return normalize_event(raw, keep_unknown_attributes=True), rules


def run_case(
    name: str, data: Mapping[str, Any], snapshot_text: str, enhancements: Enhancements
) -> CaseResult:
    """Compare our variants for one input with its snapshot."""
    expected = parse_snapshot(snapshot_text)
    try:
        event, rules = prepare_input(data)
        result = calculate_grouping(
            event, enhancements=enhancements, fingerprint_rules=rules
        )
    except GroupingError as error:
        return CaseResult(name, error=str(error), known_reason=_known_reason(name))
    info = result.grouping_info()
    comparisons = [
        _compare(variant, expected.get(variant), info.get(variant))
        for variant in sorted(set(expected) | set(info))
    ]
    return CaseResult(name, comparisons, known_reason=_known_reason(name))


def _compare(
    name: str, expected: SnapshotVariant | None, actual: Mapping[str, Any] | None
) -> VariantComparison:
    expected_hash = expected.hash if expected else None
    actual_hash = actual.get("hash") if actual else None
    difference = None
    if expected is None:
        difference = "variant not in snapshot"
    elif actual is None:
        difference = "variant not computed"
    elif expected.tree:
        component = actual.get("component")
        ours = render_tree(component) if isinstance(component, Mapping) else []
        difference = _first_line_difference(expected.tree, ours)
    return VariantComparison(
        name,
        expected_hash,
        actual_hash,
        expected is not None,
        actual is not None,
        difference,
    )


def _normalize_wording(line: str) -> str:
    for old, new in _WORDING_VARIANTS:
        line = line.replace(old, new)
    return line


def _first_line_difference(expected: list[str], actual: list[str]) -> str | None:
    for number, (want, got) in enumerate(zip(expected, actual, strict=False), start=1):
        if _normalize_wording(want) != _normalize_wording(got):
            return f"tree line {number}: expected {want.strip()!r}, got {got.strip()!r}"
    if len(expected) != len(actual):
        return f"tree has {len(actual)} lines, snapshot has {len(expected)}"
    return None


def iter_reference_cases(shared: Path) -> list[tuple[str, Path, Path]]:
    """Return (name, input path, snapshot path) for every reference pair, sorted."""
    base = shared / "reference" / "sentry-grouping"
    cases = []
    for input_path in sorted((base / "inputs").glob("*.json")):
        name = input_path.stem.replace("-", "_")
        snapshot = base / "snapshots" / f"{name}.pysnap"
        if snapshot.exists():
            cases.append((name, input_path, snapshot))
    return cases


def run_conformance(shared_dir: str | Path | None = None) -> ConformanceReport:
    """Run every reference input; raise FileNotFoundError when the data is missing.

    ``shared_dir`` defaults to ``$SEER_BACKFILL_SHARED_DIR`` or ``<repo>/../shared``.
    """
    root = Path(shared_dir) if shared_dir is not None else default_shared_dir()
    cases = iter_reference_cases(root)
    if not cases:
        raise FileNotFoundError(
            "no grouping reference data under "
            f"{root / 'reference' / 'sentry-grouping'}; "
            "set SEER_BACKFILL_SHARED_DIR to the shared directory"
        )
    enhancements = load_reference_enhancements(root)
    results = []
    for name, input_path, snapshot_path in cases:
        data = json.loads(input_path.read_text(encoding="utf-8"))
        results.append(
            run_case(
                name, data, snapshot_path.read_text(encoding="utf-8"), enhancements
            )
        )
    return ConformanceReport(results)
