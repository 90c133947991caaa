from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from consumers.cli.main import cli
from consumers.samples import scenario_names


def test_cli_generate_envelopes(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["generate-events", "--count", "6", "--out", str(tmp_path), "--seed", "2"]
    )
    assert result.exit_code == 0, result.output
    assert len(list(tmp_path.glob("*.envelope"))) == 6


def test_cli_generate_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["generate-events", "--count", "4", "--out", str(tmp_path), "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads((tmp_path / "events.json").read_text())) == 4


def test_cli_generate_one_scenario(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "generate-events",
            "--count",
            "3",
            "--out",
            str(tmp_path),
            "--format",
            "json",
            "--scenario",
            "reports.bad_date",
        ],
    )
    events = json.loads((tmp_path / "events.json").read_text())
    assert result.exit_code == 0, result.output
    assert {e["tags"]["scenario"] for e in events} == {"reports.bad_date"}


def test_cli_generate_unknown_scenario_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "generate-events",
            "--count",
            "3",
            "--out",
            str(tmp_path),
            "--scenario",
            "nope",
        ],
    )
    assert result.exit_code == 2


def test_cli_generate_zero_count_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["generate-events", "--count", "0", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2


def test_cli_list_scenarios_alone() -> None:
    result = CliRunner().invoke(cli, ["generate-events", "--list-scenarios"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == list(scenario_names())


def test_cli_list_scenarios_writes_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["generate-events", "--list-scenarios", "--count", "3", "--out", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    assert list(tmp_path.iterdir()) == []


def test_cli_generate_without_count_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["generate-events", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "Missing option '--count'" in result.stderr


def test_cli_generate_without_out_exit_2() -> None:
    result = CliRunner().invoke(cli, ["generate-events", "--count", "3"])
    assert result.exit_code == 2
    assert "Missing option '--out'" in result.stderr
