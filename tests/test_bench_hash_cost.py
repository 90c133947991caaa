"""The standalone hashing-cost benchmark runs end to end and checks its usage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
SCRIPT = REPOSITORY / "bench" / "hash_cost.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_prints_each_run_and_a_summary(own_database: str) -> None:
    done = _run(
        "--database-url", own_database, "--groups", "80", "--sample", "20",
        "--runs", "2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == ["run 1", "run 2"]
    assert lines[-2].startswith("median of 2: parse ")
    assert lines[-1].startswith("summary: first_pass_ratio=")
    ratio = float(lines[-1].split()[1].split("=")[1])
    assert ratio > 0


def test_too_few_groups_is_usage_error() -> None:
    done = _run("--database-url", "postgresql://unused", "--groups", "30")
    assert done.returncode == 2
    assert "--sample 500 needs at least 1000 groups" in done.stderr
