"""`seer-backfill demo`: the whole backfill on embedded services."""

from __future__ import annotations

import sys

import click

from consumers.cli import options as opt


@click.command()
@click.option(
    "--events",
    type=click.IntRange(min=10),
    default=600,
    show_default=True,
    help="SDK events to generate.",
)
@click.option(
    "--projects",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Projects to spread the events over.",
)
@click.option(
    "--seer-latency-ms",
    type=click.FloatRange(min=0),
    default=20.0,
    show_default=True,
    help="Latency the local Seer service adds to each request, in milliseconds.",
)
@click.option(
    "--processes",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Hashing worker processes; 0 hashes in the consumer process.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Groups per project-batch message.",
)
@click.option(
    "--seed",
    type=int,
    default=1,
    show_default=True,
    help="Seed of the event generator.",
)
@click.option(
    "--bootstrap-servers",
    default=None,
    help="Use this Kafka instead of an embedded tansu broker.",
)
@click.option(
    "--database-url",
    default=None,
    help="Use this PostgreSQL instead of an embedded one.",
)
@click.option(
    "--seer-url", default=None, help="Use this Seer instead of the local service."
)
@opt.log_level
def demo(
    events: int,
    projects: int,
    seer_latency_ms: float,
    processes: int,
    batch_size: int,
    seed: int,
    bootstrap_servers: str | None,
    database_url: str | None,
    seer_url: str | None,
    log_level: str,
) -> None:
    """Run the backfill end to end and print a summary.

    Without options it starts a tansu broker, an embedded PostgreSQL and the
    Seer-compatible service in a temporary folder, and removes them at the
    end. Exits 1 when anything fails or when offsets are left uncommitted.
    """
    from consumers.demo import DemoConfig, run_demo

    opt.configure_logging(log_level)
    summary = run_demo(
        DemoConfig(
            events=events,
            projects=projects,
            seer_latency_ms=seer_latency_ms,
            processes=processes,
            batch_size=batch_size,
            seed=seed,
            bootstrap_servers=bootstrap_servers,
            database_url=database_url,
            seer_url=seer_url,
        )
    )
    click.echo(summary.format())
    if any(summary.lag().values()):
        click.echo("error: the consumer left messages uncommitted", err=True)
        sys.exit(1)
