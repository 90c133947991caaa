"""Exit codes of `run_command`, the entry point of every command line."""

from __future__ import annotations

import click
import pytest

from consumers.cli.main import EXIT_INTERRUPTED, run_command


@click.command()
@click.option("--outcome", type=click.Choice(["ok", "fail", "interrupt", "eof"]))
@click.option("--code", type=int, default=None)
def sample(outcome: str, code: int | None) -> None:
    if code is not None:
        click.get_current_context().exit(code)
    if outcome == "fail":
        raise click.ClickException("it failed")
    if outcome == "interrupt":
        raise KeyboardInterrupt
    if outcome == "eof":
        raise EOFError


def exit_code(*args: str) -> int | str | None:
    with pytest.raises(SystemExit) as exited:
        run_command(sample, list(args))
    return exited.value.code


def test_success_exits_0() -> None:
    assert exit_code("--outcome", "ok") == 0


def test_failure_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("--outcome", "fail") == 1
    assert "Error: it failed" in capsys.readouterr().err


def test_usage_error_exits_2() -> None:
    assert exit_code("--outcome", "other") == 2


def test_ctrl_c_exits_130(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("--outcome", "interrupt") == EXIT_INTERRUPTED == 130
    assert "Aborted!" in capsys.readouterr().err


def test_end_of_input_exits_1() -> None:
    assert exit_code("--outcome", "eof") == 1


def test_context_exit_code_kept() -> None:
    assert exit_code("--code", "3") == 3
