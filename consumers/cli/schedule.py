"""`seer-backfill schedule`: start a backfill run by publishing its first messages.

Exit codes: 0 every message delivered (or dry run, or nothing to publish),
1 a delivery failed or the database or broker could not be used, 2 usage
error.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import click
import psycopg
from tqdm import tqdm

from consumers.cli import options
from consumers.kafka.config import KafkaOptions, kafka_option
from consumers.kafka.produce import OutgoingMessage
from consumers.messages import (
    MAX_ID,
    MAX_LIST_ITEMS,
    MAX_RUN_ID_CHARS,
    InvalidBatch,
    check_run_id,
)
from consumers.ops.schedule import (
    DEFAULT_CHAIN_GROUPS,
    RunOptions,
    ScheduleError,
    parse_cohort_text,
    plan_schedule,
    publish,
)


def _project_ids(project_id: tuple[int, ...], cohort_file: Path | None) -> list[int]:
    ids = list(project_id)
    if cohort_file is not None:
        try:
            text = cohort_file.read_text("utf-8")
        except OSError as e:
            raise click.BadParameter(str(e), param_hint="--cohort-file") from e
        try:
            ids.extend(parse_cohort_text(text, str(cohort_file)))
        except ScheduleError as e:
            raise click.BadParameter(str(e), param_hint="--cohort-file") from e
    return ids


def _valid_run_id(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    if value is None:
        return None
    # An empty id usually means an unset shell variable; a fresh UUID in its
    # place would start a second run instead of repeating the first.
    if not value.strip():
        raise click.BadParameter(
            "is empty; pass the id printed by an earlier schedule, or omit "
            "--run-id to start a new run",
            ctx,
            param,
        )
    try:
        check_run_id(value)
    except InvalidBatch as e:
        value_description = (
            repr(value) if len(value) <= 40 else f"a run id of {len(value)} characters"
        )
        raise click.BadParameter(
            f"{value_description} is invalid, because {e.detail} in "
            "project-batch messages. Pass another id, or omit --run-id to "
            "start a new run.",
            ctx,
            param,
        ) from e
    return value


def _check_skipped_count(
    ctx: click.Context, param: click.Parameter, value: tuple[int, ...]
) -> tuple[int, ...]:
    # Every message of the run carries the list.
    if len(set(value)) > MAX_LIST_ITEMS:
        raise click.BadParameter(
            f"{len(set(value))} distinct ids are over the limit of "
            f"{MAX_LIST_ITEMS} per project-batch message; skip fewer projects",
            ctx,
            param,
        )
    return value


# The messages carry project ids, which must fit PostgreSQL's bigint like
# every integer in them.
PROJECT_ID_RANGE = click.IntRange(min=1, max=MAX_ID)


@click.command()
@click.option(
    "--project-id",
    type=PROJECT_ID_RANGE,
    multiple=True,
    help="Project to backfill; repeatable.",
)
@click.option(
    "--cohort-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File of project ids, one per line or comma-separated; # starts a comment.",
)
@click.option(
    "--all-projects",
    is_flag=True,
    help="Backfill every project in the database, in id order.",
)
@click.option(
    "--total-workers",
    type=click.IntRange(min=1, max=MAX_ID),
    help="Worker mode: number of worker cohorts the projects are split into.",
)
@click.option(
    "--worker-number",
    type=click.IntRange(min=0, max=MAX_ID),
    multiple=True,
    help="Worker mode: cohort to start, 0..total-1; repeatable [default: all].",
)
@click.option(
    "--cohort-size",
    # Each message of a cohort's chain lists the whole cohort.
    type=click.IntRange(min=1, max=MAX_LIST_ITEMS),
    help="Projects per chain, processed in order [default: one chain per "
    "project, all in parallel]. Ignored in worker mode.",
)
@click.option(
    "--chain-groups",
    type=click.IntRange(min=0),
    default=DEFAULT_CHAIN_GROUPS,
    show_default=True,
    help="Split a project with more than this many groups into chains of "
    "at most this many groups over disjoint ranges of group ids, which run "
    "in parallel; 0 never splits. Not used with --cohort-size, --total-workers "
    "or --only-delete. A project that a --run-id already split keeps its "
    "chains when the run is scheduled again.",
)
@click.option(
    "--run-id",
    callback=_valid_run_id,
    help=f"Id of the run: 1 to {MAX_RUN_ID_CHARS} characters, no control "
    "characters [default: a new UUID4, printed].",
)
@click.option("--only-delete", is_flag=True, help="Delete the projects' Seer records.")
@click.option(
    "--enable-ingestion",
    is_flag=True,
    help="Mark each project complete when its backfill finishes.",
)
@click.option(
    "--skip-processed-projects/--no-skip-processed-projects",
    default=True,
    show_default=True,
    help="Skip projects already marked complete.",
)
@click.option(
    "--skip-project-id",
    type=PROJECT_ID_RANGE,
    multiple=True,
    callback=_check_skipped_count,
    help="Project to leave out; repeatable.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the messages as JSON lines instead of publishing them.",
)
@options.database_url
@options.bootstrap_servers
@options.setting(
    "--topic",
    default=options.INPUT_TOPIC,
    show_default=True,
    help="Topic of the project-batch messages.",
)
@kafka_option
@options.log_level
def schedule(
    project_id: tuple[int, ...],
    cohort_file: Path | None,
    all_projects: bool,
    total_workers: int | None,
    worker_number: tuple[int, ...],
    cohort_size: int | None,
    chain_groups: int,
    run_id: str | None,
    only_delete: bool,
    enable_ingestion: bool,
    skip_processed_projects: bool,
    skip_project_id: tuple[int, ...],
    dry_run: bool,
    database_url: str,
    bootstrap_servers: str,
    topic: str,
    kafka_option: tuple[str, ...],
    log_level: str,
) -> None:
    """Publish the first project-batch messages of a backfill run.

    Messages are keyed by project id (project id and range floor for the
    chains of a split project). Running again with the same --run-id
    publishes only the chains that have no row in backfill_ledger yet.

    Exit codes: 0 success, 1 a delivery failed or the database could not be
    read, 2 usage error.
    """
    options.configure_logging(log_level)
    if worker_number and total_workers is None:
        raise click.UsageError("--worker-number needs --total-workers")
    modes_without_split = [
        flag
        for flag, used in (
            ("--cohort-size", cohort_size is not None),
            ("--total-workers", total_workers is not None),
            ("--only-delete", only_delete),
        )
        if used
    ]
    chain_groups_source = click.get_current_context().get_parameter_source(
        "chain_groups"
    )
    chain_groups_set = chain_groups_source is not click.core.ParameterSource.DEFAULT
    if chain_groups_set and modes_without_split:
        click.echo(
            f"warning: --chain-groups is not used with {modes_without_split[0]}, "
            "so no project is split",
            err=True,
        )
    ids = _project_ids(project_id, cohort_file)
    run = RunOptions(
        run_id=str(uuid.uuid4()) if run_id is None else run_id,
        only_delete=only_delete,
        enable_ingestion=enable_ingestion,
        skip_processed_projects=skip_processed_projects,
        skip_project_ids=tuple(sorted(set(skip_project_id))),
    )
    kafka_options = KafkaOptions.parse(kafka_option)
    click.echo(f"run id: {run.run_id}", err=dry_run)

    try:
        plan = plan_schedule(
            database_url,
            run,
            project_ids=ids,
            all_projects=all_projects,
            total_workers=total_workers,
            worker_numbers=worker_number,
            cohort_size=cohort_size,
            chain_groups=chain_groups,
            # A dry run writes nothing, so it shows new splits without
            # fixing them for the run.
            remember=not dry_run,
        )
    except ScheduleError as e:
        raise click.UsageError(str(e)) from e
    except psycopg.Error as e:
        if options.database_error_message(e, database_url) is not None:
            raise  # `options.database_url` reports it with the next step
        raise click.ClickException(
            f"reading the database failed: {e}; check --database-url"
        ) from e

    # A dry run keeps stdout for the JSON lines.
    if plan.skipped_project_ids:
        skipped = len(plan.skipped_project_ids)
        click.echo(f"left out by --skip-project-id: {skipped}", err=dry_run)
    click.echo(
        f"already in backfill_ledger, skipped: {len(plan.already_started)} chains",
        err=dry_run,
    )
    if dry_run:
        for batch in plan.batches:
            line = {
                "topic": topic,
                "key": batch.key().decode(),
                "value": batch.to_dict(),
            }
            click.echo(json.dumps(line, sort_keys=True))
        count = len(plan.batches)
        noun = "message" if count == 1 else "messages"
        click.echo(f"dry run: {count} {noun} not published", err=True)
        return
    if not plan.batches:
        click.echo("nothing to publish")
        return

    with tqdm(
        total=len(plan.batches), unit="msg", disable=not sys.stderr.isatty()
    ) as bar:

        def advance(_: OutgoingMessage) -> None:
            bar.update(1)

        result = publish(plan.batches, bootstrap_servers, topic, kafka_options, advance)
    click.echo(f"published: {result.delivered} messages to {topic}")
    if not result.ok:
        click.echo(f"failed: {len(result.failed)} messages", err=True)
        for failure in result.failed[:10]:
            click.echo(f"  {failure.message.label}: {failure.error}", err=True)
        # Chains already consumed have ledger rows and are skipped. The
        # consumer ignores a second copy of a first batch it has not consumed.
        click.echo(
            f"run again with --run-id {run.run_id} to publish the chains "
            "that have not started",
            err=True,
        )
        sys.exit(1)
