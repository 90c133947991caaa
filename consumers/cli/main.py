"""Entry point of the `seer-backfill` command.

Subcommands live in their own modules and are imported when invoked, so
`seer-backfill --help` stays fast and a command's heavy imports (Arroyo,
the grouping engine) load only when needed.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, NoReturn

import click

# Command name -> "module:attribute" of its click command or group.
COMMANDS: dict[str, str] = {
    "run": "consumers.cli.run:run",
    "db": "consumers.cli.db:db",
    "topics": "consumers.cli.topics:topics",
    "ingest": "consumers.cli.ingest:ingest",
    "schedule": "consumers.cli.schedule:schedule",
    "seer-local": "consumers.cli.seer_local:seer_local",
    "demo": "consumers.cli.demo:demo",
    "broker": "consumers.cli.broker:broker",
    "grouping": "consumers.cli.grouping:grouping",
    "offsets": "consumers.cli.offsets:offsets",
    "dlq": "consumers.cli.dlq:dlq",
    "lag": "consumers.cli.lag:lag",
    "generate-events": "consumers.cli.generate_events:generate_events",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        module = importlib.import_module(module_name)
        command: Any = getattr(module, attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="seer-backfill")
def cli() -> None:
    """Backfill Seer similarity records for existing error groups, from Kafka.

    Exit codes: 0 success, 1 runtime failure, 2 usage error, 130 after
    Ctrl-C (SIGINT); commands that check a condition (`lag --fail-on`)
    document their own.
    """


# The shell's exit status for a process stopped by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130


def run_command(command: click.Command, args: list[str] | None = None) -> NoReturn:
    """Run a click command as a program, as click's standalone mode does,
    except that Ctrl-C exits with `EXIT_INTERRUPTED` instead of 1.

    ``args`` defaults to the process's command-line arguments.
    """
    try:
        result = command.main(args=args, standalone_mode=False)
    except click.Abort as e:
        click.echo("Aborted!", err=True)
        interrupted = isinstance(e.__cause__, KeyboardInterrupt)
        sys.exit(EXIT_INTERRUPTED if interrupted else 1)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    # A command returns None, or its exit code when it calls `ctx.exit`.
    sys.exit(result if isinstance(result, int) else 0)


def main() -> None:
    # Imported here, not at the top, because it must run before anything
    # imports prometheus_client; it imports nothing heavy itself.
    from consumers.ops.metrics_setup import forget_inherited_dir

    forget_inherited_dir()
    run_command(cli)
