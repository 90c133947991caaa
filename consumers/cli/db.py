"""`seer-backfill db`: schema management."""

from __future__ import annotations

import click

from consumers.cli import options as opt
from consumers.db.migrate import migrate


@click.group()
def db() -> None:
    """Manage the PostgreSQL schema."""


@db.command("migrate")
@opt.database_url
@opt.log_level
def migrate_command(database_url: str, log_level: str) -> None:
    """Create the tables and indexes that are missing (safe to run again).

    Exit codes: 0 success, 1 the database could not be reached or changed,
    2 usage error.
    """
    opt.configure_logging(log_level)
    migrate(database_url)
    click.echo("schema is up to date")
