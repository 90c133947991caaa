from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from consumers.cli.main import cli


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["ingest", *args])
    return result.exit_code, result.output


def test_cli_ingest_ok(clean_database: str, envelope_dir: Path, tmp_path: Path) -> None:
    files = sorted(envelope_dir.iterdir())[:5]
    for path in files:
        shutil.copy(path, tmp_path)
    code, output = run(
        str(tmp_path), "--project-id", "3", "--database-url", clean_database
    )
    assert code == 0, output
    assert "5 read, 5 loaded" in output


def test_cli_ingest_invalid_file_exit_1(clean_database: str, tmp_path: Path) -> None:
    (tmp_path / "good.json").write_text(json.dumps({"message": "ok"}))
    (tmp_path / "bad.json").write_text("{broken")
    code, output = run(
        str(tmp_path),
        "--project-id",
        "3",
        "--database-url",
        clean_database,
        "--format",
        "json",
    )
    report = json.loads(output)
    assert code == 1
    assert report["events_loaded"] == 1
    assert report["invalid"][0]["source"].endswith("bad.json")
    assert report["invalid"][0]["reason"].startswith("invalid JSON")


def test_cli_ingest_missing_path_exit_2(clean_database: str, tmp_path: Path) -> None:
    code, _ = run(str(tmp_path / "absent.json"), "--project-id", "3")
    assert code == 2


def test_cli_ingest_database_error_exit_1(tmp_path: Path) -> None:
    (tmp_path / "good.json").write_text(json.dumps({"message": "ok"}))
    code, output = run(
        str(tmp_path),
        "--project-id",
        "3",
        "--database-url",
        "postgresql://postgres@127.0.0.1:5432/seer_backfill_no_such_database",
    )
    assert code == 1
    assert "cannot connect to database 'seer_backfill_no_such_database'" in output
    assert "create the database" in output
