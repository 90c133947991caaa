"""Conformance with Sentry's recorded grouping snapshots (config newstyle:2023-01-11).

The reference inputs and snapshots are read at run time from
``$SEER_BACKFILL_SHARED_DIR/reference/sentry-grouping``; without them the
tests are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from consumers.grouping.conformance import (
    KNOWN_HASH_DIFFERENCES,
    KNOWN_TREE_DIFFERENCES,
    CaseResult,
    default_shared_dir,
    iter_reference_cases,
    load_reference_enhancements,
    run_case,
    run_conformance,
)

SHARED = default_shared_dir()
CASES = iter_reference_cases(SHARED)
pytestmark = pytest.mark.skipif(
    not CASES, reason=f"no grouping reference data under {SHARED}"
)
MIN_MATCH_RATE = 0.95


def _run(name: str, input_path: Path, snapshot_path: Path) -> CaseResult:
    data = json.loads(input_path.read_text(encoding="utf-8"))
    snapshot = snapshot_path.read_text(encoding="utf-8")
    return run_case(name, data, snapshot, load_reference_enhancements(SHARED))


def _params(known: dict[str, str]) -> list[Any]:
    params = []
    for name, input_path, snapshot_path in CASES:
        marks = []
        if name in known:
            marks.append(pytest.mark.xfail(strict=True, reason=known[name]))
        params.append(
            pytest.param(name, input_path, snapshot_path, marks=marks, id=name)
        )
    return params


@pytest.mark.parametrize(
    ("name", "input_path", "snapshot_path"), _params(KNOWN_HASH_DIFFERENCES)
)
def test_hashes_match(name: str, input_path: Path, snapshot_path: Path) -> None:
    result = _run(name, input_path, snapshot_path)
    assert result.error is None
    mismatches = [
        f"{c.name}: ours {c.actual_hash}, Sentry {c.expected_hash}"
        for c in result.variants
        if not c.hash_matches
    ]
    assert mismatches == []


@pytest.mark.parametrize(
    ("name", "input_path", "snapshot_path"), _params(KNOWN_TREE_DIFFERENCES)
)
def test_trees_match(name: str, input_path: Path, snapshot_path: Path) -> None:
    result = _run(name, input_path, snapshot_path)
    differences = [
        f"{c.name}: {c.first_difference}" for c in result.variants if c.first_difference
    ]
    assert differences == []


def test_match_rate() -> None:
    report = run_conformance(SHARED)
    assert report.rate("app") >= MIN_MATCH_RATE, report.format_table()
    assert report.rate("system") >= MIN_MATCH_RATE, report.format_table()


def test_report_table_lists_every_input() -> None:
    report = run_conformance(SHARED)
    table = report.format_table()
    assert all(case.name in table for case in report.cases)
    assert "app hashes match:" in table
