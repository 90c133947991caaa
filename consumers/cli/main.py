"""Entry point of the `seer-backfill` command.

Subcommands live in their own modules and are imported when invoked, so
`seer-backfill --help` stays fast and a command's heavy imports (Arroyo,
the grouping engine) load only when needed.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

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

    Exit codes: 0 success, 1 runtime failure, 2 usage error; commands that
    check a condition (`lag --fail-on`) document their own.
    """


def main() -> None:
    # Imported here, not at the top, because it must run before anything
    # imports prometheus_client; it imports nothing heavy itself.
    from consumers.ops.metrics_setup import forget_inherited_dir

    forget_inherited_dir()
    sys.exit(cli.main(standalone_mode=True))
