"""The standalone hashing-cost benchmark runs end to end and checks its usage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg

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


def test_runs_print_summary(own_database: str) -> None:
    done = _run(
        "--database-url", own_database, "--groups", "80", "--sample", "20",
        "--runs", "2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[:2]] == ["run 1", "run 2"]
    assert lines[-2].startswith("median of 2: parse ")
    summary = dict(item.split("=") for item in lines[-1].split()[1:])
    assert float(summary["first_pass_ratio"]) > 0
    assert summary["target_met"] in ("yes", "no")


def test_too_few_groups_is_usage_error() -> None:
    done = _run("--database-url", "postgresql://unused", "--groups", "30")
    assert done.returncode == 2
    assert "--sample 500 needs at least 1000 groups" in done.stderr


def test_non_postgresql_url_is_usage_error() -> None:
    done = _run("--database-url", "mysql://root@127.0.0.1/x")
    assert done.returncode == 2
    assert "expected a postgresql:// URL" in done.stderr
    assert "root@" not in done.stderr


def test_partly_built_dataset_is_reported(own_database: str) -> None:
    # An interrupted build leaves its projects behind, without a dataset.
    with psycopg.connect(own_database) as conn:
        conn.execute(
            "INSERT INTO projects (id, organization_id, slug) VALUES (1, 1, 'p')"
        )
    done = _run("--database-url", own_database, "--groups", "80", "--sample", "20")
    assert done.returncode == 1
    assert "no finished benchmark dataset" in done.stderr
