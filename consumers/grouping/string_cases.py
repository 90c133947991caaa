"""Check `get_stacktrace_string` against Sentry's own test cases.

The cases live outside the repository, in
`<shared dir>/reference/seer-stacktrace-string/cases.json`, a list of
`{name, grouping_info, platform, expected}` objects transcribed from Sentry's
`GetStacktraceStringTest`. `expected` is the exact output, or null when the
upstream test checks only part of it; then one or more of these keys define
the check:

- `expected_count`: `{substrings, total}`, the occurrences of all substrings
  added together must equal `total`;
- `expected_contains` / `expected_not_contains`: substrings that must or must
  not appear;
- `expected_frame_count`: the number of frames in the output.

The shared dir is `$SEER_BACKFILL_SHARED_DIR`, or `../shared` next to the
repository checkout when the variable is unset.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consumers.grouping.stacktrace_string import get_stacktrace_string

__all__ = [
    "SHARED_DIR_ENV",
    "StringCase",
    "StringCaseError",
    "StringCaseReport",
    "StringCaseResult",
    "check_string_case",
    "default_shared_dir",
    "load_string_cases",
    "run_stacktrace_cases",
    "string_cases_path",
]

SHARED_DIR_ENV = "SEER_BACKFILL_SHARED_DIR"

_REPO_ROOT = Path(__file__).resolve().parents[2]

# A frame's first line; the output is stripped, so the first frame of a
# headerless string has lost its indent.
_FRAME_LINE = re.compile(r'^\s*File ".*", function ', re.MULTILINE)


class StringCaseError(Exception):
    """The cases file is missing or is not in the format described above."""


def default_shared_dir() -> Path:
    """Return `$SEER_BACKFILL_SHARED_DIR`, else `<repo>/../shared`."""
    configured = os.environ.get(SHARED_DIR_ENV)
    if configured:
        return Path(configured)
    return _REPO_ROOT.parent / "shared"


def string_cases_path(shared_dir: Path) -> Path:
    return shared_dir / "reference" / "seer-stacktrace-string" / "cases.json"


@dataclass(frozen=True)
class StringCase:
    """One expected output of `get_stacktrace_string`."""

    name: str
    grouping_info: Mapping[str, Any]
    platform: str | None
    expected: str | None
    count_substrings: tuple[str, ...] = ()
    count_total: int | None = None
    contains: tuple[str, ...] = ()
    not_contains: tuple[str, ...] = ()
    frame_count: int | None = None


@dataclass(frozen=True)
class StringCaseResult:
    """The output for one case and every check it failed (none when it passed)."""

    name: str
    actual: str
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class StringCaseReport:
    """Results of all cases, in file order."""

    source: Path
    results: tuple[StringCaseResult, ...]

    @property
    def passed(self) -> int:
        return sum(1 for result in self.results if result.passed)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def all_passed(self) -> bool:
        return self.passed == self.total

    def format_table(self) -> str:
        """Render one line per case, failures indented under it, and a total."""
        width = max((len(result.name) for result in self.results), default=4)
        lines = [f"{'case':<{width}}  result"]
        for result in self.results:
            lines.append(f"{result.name:<{width}}  {'ok' if result.passed else 'FAIL'}")
            lines.extend(f"    {failure}" for failure in result.failures)
        lines.append(f"stacktrace string: {self.passed}/{self.total} cases match")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "passed": self.passed,
            "total": self.total,
            "cases": [
                {
                    "name": result.name,
                    "passed": result.passed,
                    "failures": list(result.failures),
                }
                for result in self.results
            ],
        }


def _string_list(raw: Any, what: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise StringCaseError(f"{what} must be a list of strings, got {raw!r}")
    return tuple(raw)


def _parse_case(raw: Any, index: int) -> StringCase:
    if not isinstance(raw, Mapping):
        raise StringCaseError(
            f"case #{index} must be an object, got {type(raw).__name__}"
        )
    name = raw.get("name")
    if not isinstance(name, str):
        raise StringCaseError(f"case #{index} has no string `name`")
    grouping_info = raw.get("grouping_info")
    if not isinstance(grouping_info, Mapping):
        raise StringCaseError(f"case {name}: `grouping_info` must be an object")
    expected = raw.get("expected")
    if expected is not None and not isinstance(expected, str):
        raise StringCaseError(f"case {name}: `expected` must be a string or null")

    count = raw.get("expected_count")
    count_substrings: tuple[str, ...] = ()
    count_total = None
    if count is not None:
        if not isinstance(count, Mapping) or not isinstance(count.get("total"), int):
            raise StringCaseError(
                f"case {name}: `expected_count` must be {{substrings, total}}"
            )
        count_substrings = _string_list(
            count.get("substrings"), f"case {name} substrings"
        )
        count_total = count["total"]

    frame_count = raw.get("expected_frame_count")
    if frame_count is not None and not isinstance(frame_count, int):
        raise StringCaseError(f"case {name}: `expected_frame_count` must be an integer")

    platform = raw.get("platform")
    return StringCase(
        name=name,
        grouping_info=grouping_info,
        platform=platform if isinstance(platform, str) else None,
        expected=expected,
        count_substrings=count_substrings,
        count_total=count_total,
        contains=_string_list(raw.get("expected_contains"), f"case {name} contains"),
        not_contains=_string_list(
            raw.get("expected_not_contains"), f"case {name} not_contains"
        ),
        frame_count=frame_count,
    )


def load_string_cases(shared_dir: Path | None = None) -> list[StringCase]:
    """Read and validate the cases file.

    Raises `StringCaseError` naming the path when the file is missing, is not
    JSON, or a case lacks a required key.
    """
    path = string_cases_path(shared_dir or default_shared_dir())
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StringCaseError(
            f"cannot read stacktrace-string cases {path}: {exc.strerror or exc}; "
            f"set {SHARED_DIR_ENV} to the directory that contains reference/"
        ) from exc
    except json.JSONDecodeError as exc:
        raise StringCaseError(f"invalid JSON in {path}: {exc}") from exc

    if not isinstance(raw, list):
        raise StringCaseError(f"{path} must contain a JSON list of cases")
    return [_parse_case(item, index) for index, item in enumerate(raw)]


def count_frames(stacktrace_string: str) -> int:
    """Count the frames in a stacktrace string built by `get_stacktrace_string`."""
    return len(_FRAME_LINE.findall(stacktrace_string))


def _failures(case: StringCase, actual: str) -> list[str]:
    failures = []
    if case.expected is not None and actual != case.expected:
        failures.append(f"expected {case.expected!r}, got {actual!r}")
    if case.count_total is not None:
        found = sum(actual.count(text) for text in case.count_substrings)
        if found != case.count_total:
            failures.append(
                f"expected {case.count_total} occurrences of "
                f"{list(case.count_substrings)}, found {found}"
            )
    failures.extend(f"missing {text!r}" for text in case.contains if text not in actual)
    failures.extend(
        f"unexpected {text!r}" for text in case.not_contains if text in actual
    )
    if case.frame_count is not None and count_frames(actual) != case.frame_count:
        failures.append(
            f"expected {case.frame_count} frames, found {count_frames(actual)}"
        )
    return failures


def check_string_case(case: StringCase) -> StringCaseResult:
    """Build the string for one case and compare it with every expectation."""
    actual = get_stacktrace_string(case.grouping_info, case.platform)
    return StringCaseResult(case.name, actual, tuple(_failures(case, actual)))


def run_stacktrace_cases(
    shared_dir: Path | None = None, cases: Sequence[StringCase] | None = None
) -> StringCaseReport:
    """Check every case of the shared cases file; raises `StringCaseError`."""
    directory = shared_dir or default_shared_dir()
    selected = load_string_cases(directory) if cases is None else cases
    results = tuple(check_string_case(case) for case in selected)
    return StringCaseReport(string_cases_path(directory), results)
