"""`seer-backfill ingest`: load Sentry event files into the database."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click
import psycopg
from tqdm import tqdm

from consumers.cli import options

logger = logging.getLogger(__name__)


def _advance(progress: tqdm[Any]) -> None:
    progress.update(1)


@click.command("ingest")
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)
@click.option(
    "--project-id",
    type=click.IntRange(min=1),
    required=True,
    help="Project the events belong to; its row is created when missing.",
)
@click.option(
    "--organization-id",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Organization id of the project row, when ingest creates it.",
)
@click.option(
    "--slug",
    default=None,
    help="Slug of the project row, when ingest creates it [default: project-<id>].",
)
@click.option(
    "--platform",
    default=None,
    help="Platform of the project row, when ingest creates it "
    "[default: the first event's].",
)
@options.database_url
@click.option(
    "--shift-to-now",
    is_flag=True,
    help="Per file, move every event timestamp by one offset so that the file's newest "
    "event is at the current time (keeps the spacing within a file, so a file of one "
    "event, such as an envelope, lands at the current time). Events without a "
    "timestamp get the current time anyway.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Events written per database transaction.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes that normalise and hash events (the CPU-bound part).",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Summary format on stdout.",
)
@options.log_level
def ingest(
    paths: tuple[Path, ...],
    project_id: int,
    organization_id: int,
    slug: str | None,
    platform: str | None,
    database_url: str,
    shift_to_now: bool,
    batch_size: int,
    workers: int,
    output_format: str,
    log_level: str,
) -> None:
    """Load Sentry events from PATHS into one project.

    A path is a file or a directory (its `*.json` and `*.envelope` files,
    recursively, in path order). A file contains one JSON event, a JSON list
    of events, or a Sentry envelope (`*.envelope`, or detected by its header
    lines). Events are normalised by Relay and grouped, and stored `hashes`
    are kept. Loading the same input twice changes nothing.

    Exit codes: 0 every file and event loaded; 1 a file or event was invalid
    (the valid ones are still loaded) or the database failed; 2 usage error.
    """
    from consumers.ingest import IngestOptions, ingest_paths
    from consumers.ingest.sources import expand_paths

    options.configure_logging(log_level)
    files = list(expand_paths(paths))
    settings = IngestOptions(
        organization_id=organization_id,
        slug=slug,
        platform=platform,
        batch_size=batch_size,
    )
    progress = tqdm(total=len(files), unit="file", disable=not sys.stderr.isatty())
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            report = ingest_paths(
                files,
                project_id,
                conn,
                settings,
                shift_to_now=shift_to_now,
                on_file=lambda _path, _report: _advance(progress),
            )
    except psycopg.Error as error:
        progress.close()
        if options.database_error_message(error, database_url) is not None:
            raise  # `options.database_url` reports it with the next step
        logger.error("ingest failed: project=%s: %s", project_id, error)
        raise click.ClickException(
            f"database error while loading project {project_id}: {error}. "
            "Batches written before the error are committed; rerun to load the rest."
        ) from error
    except OSError as error:
        progress.close()
        raise click.ClickException(f"cannot read input: {error}") from error
    progress.close()
    if output_format == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(report.to_text())
    if not report.ok:
        sys.exit(1)
