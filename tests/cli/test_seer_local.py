from __future__ import annotations

import dataclasses

from click.testing import CliRunner

from consumers.cli.seer_local import seer_local
from consumers.seer.service import FaultConfig


def test_help_lists_every_fault_key() -> None:
    result = CliRunner().invoke(seer_local, ["--help"])
    assert result.exit_code == 0, result.output
    assert "POST /_admin/faults" in result.output
    lines = result.output.splitlines()
    for field in dataclasses.fields(FaultConfig):
        # Each key starts its own line of the key table.
        assert any(line.split()[:1] == [field.name] for line in lines), field.name


def test_help_states_fault_ranges() -> None:
    output = CliRunner().invoke(seer_local, ["--help"]).output
    assert "400..599" in output
    assert "error_rate          0..1" in output
    assert '"wait" or "reject"' in output
