"""Shared command-line options reject values that would only fail later."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from consumers.cli.main import cli


@pytest.mark.parametrize(
    ("value", "problem"),
    [("", "is empty"), ("  ", "is empty"), ("a:1,,b:2", "has an empty entry")],
)
@pytest.mark.parametrize("command", [["run"], ["lag"], ["schedule"], ["dlq", "list"]])
def test_empty_bootstrap_servers_is_a_usage_error(
    command: list[str], value: str, problem: str
) -> None:
    result = CliRunner().invoke(cli, [*command, f"--bootstrap-servers={value}"])
    assert result.exit_code == 2, result.output
    assert problem in result.output
    assert "--bootstrap-servers" in result.output


@pytest.mark.parametrize(
    ("command", "variable"),
    [
        (["run"], "SEER_BACKFILL_TOPIC"),
        (["schedule"], "SEER_BACKFILL_TOPIC"),
        (["lag"], "SEER_BACKFILL_TOPIC"),
        (["offsets", "reset"], "SEER_BACKFILL_TOPIC"),
        (["dlq", "list"], "SEER_BACKFILL_DLQ_TOPIC"),
    ],
)
def test_topic_options_share_one_environment_variable(
    command: list[str], variable: str
) -> None:
    # `schedule` must publish where `run` consumes when only the variable is set.
    result = CliRunner().invoke(cli, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert f"env var: {variable}" in result.output


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        (["run"], "--consumer-group"),
        (["lag"], "--group"),
        (["offsets", "reset"], "--group"),
    ],
)
def test_group_options_share_one_environment_variable(
    command: list[str], flag: str
) -> None:
    # `lag` and `offsets reset` must name the group `run` consumes as.
    context = click.Context(cli)
    target: click.Command | None = cli
    for name in command:
        assert isinstance(target, click.Group)
        target = target.get_command(context, name)
    assert target is not None
    option = next(p for p in target.params if flag in p.opts)
    assert option.envvar == "SEER_BACKFILL_CONSUMER_GROUP"
