"""bench/run.py reports a database it cannot use in one line."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def test_missing_database_one_line_error(tmp_path: Path) -> None:
    name = f"missing_{uuid.uuid4().hex[:8]}"
    result = subprocess.run(
        [
            sys.executable,
            str(REPOSITORY / "bench" / "run.py"),
            "--database-url",
            f"postgresql://postgres@127.0.0.1:5432/{name}",
            "--no-record",
            "--workdir",
            str(tmp_path / "bench"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(f"Error: cannot connect to database '{name}'")
    assert "createdb" in last_line
    assert "Traceback" not in result.stderr
