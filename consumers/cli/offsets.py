"""`seer-backfill offsets reset`: move a stopped consumer group's offsets.

Exit codes: 0 success (or dry run), 1 failure (active group, group without
committed offsets, broker error, offsets that differ when read back), 2
usage error (including partitions the topic does not have).
"""

from __future__ import annotations

import json
import sys

import click

from consumers.cli import options
from consumers.kafka.admin import KafkaAdminError, UnknownPartitionError
from consumers.kafka.config import KafkaOptions, kafka_option
from consumers.ops.offsets import (
    ResetError,
    ResetReport,
    ResetTarget,
    ShiftBy,
    ToEarliest,
    ToLatest,
    ToOffset,
    ToTimestamp,
    duration_target,
    parse_datetime,
    parse_duration,
    reset_offsets,
    timestamp_ms,
)
from consumers.ops.tables import render_table


def parse_partition_list(value: str | None) -> list[int] | None:
    """`0,1,5` -> [0, 1, 5]; None stays None (every partition)."""
    if value is None:
        return None
    try:
        chosen = [int(item) for item in value.split(",") if item.strip()]
    except ValueError as e:
        raise click.BadParameter(
            f"{value!r} is not a comma-separated list of partition numbers",
            param_hint="--partitions",
        ) from e
    if not chosen:
        raise click.BadParameter(
            f"{value!r} names no partition; give numbers such as 0,1, or leave "
            "the option out for every partition",
            param_hint="--partitions",
        )
    return chosen


def _target(
    to_earliest: bool,
    to_latest: bool,
    to_datetime: str | None,
    by_duration: str | None,
    shift_by: int | None,
    to_offset: int | None,
) -> ResetTarget:
    chosen = [
        name
        for name, given in (
            ("--to-earliest", to_earliest),
            ("--to-latest", to_latest),
            ("--to-datetime", to_datetime is not None),
            ("--by-duration", by_duration is not None),
            ("--shift-by", shift_by is not None),
            ("--to-offset", to_offset is not None),
        )
        if given
    ]
    if len(chosen) != 1:
        given = ", ".join(chosen) or "none"
        raise click.UsageError(
            "give exactly one target: --to-earliest, --to-latest, --to-datetime, "
            f"--by-duration, --shift-by or --to-offset (got {given})"
        )
    try:
        if to_datetime is not None:
            return ToTimestamp(timestamp_ms(parse_datetime(to_datetime)))
        if by_duration is not None:
            return duration_target(parse_duration(by_duration))
    except ResetError as e:
        raise click.BadParameter(str(e), param_hint=chosen[0]) from e
    if shift_by is not None:
        return ShiftBy(shift_by)
    if to_offset is not None:
        return ToOffset(to_offset)
    return ToEarliest() if to_earliest else ToLatest()


@click.group()
def offsets() -> None:
    """Inspect and change committed offsets of consumer groups."""


@offsets.command("reset")
@options.bootstrap_servers
@click.option(
    "--group",
    default=options.DEFAULT_CONSUMER_GROUP,
    show_default=True,
    # The same variable as `run --consumer-group`, so that both commands
    # name the group the consumer runs as.
    envvar=options.envvar_for("--consumer-group"),
    show_envvar=True,
    help="Consumer group whose offsets are reset.",
)
@options.setting(
    "--topic", default=options.INPUT_TOPIC, show_default=True, help="Topic to reset."
)
@click.option(
    "--partitions",
    default=None,
    help="Comma-separated partition numbers, such as 0,1 [default: all].",
)
@click.option(
    "--to-earliest", is_flag=True, help="Reset to the earliest stored offset."
)
@click.option("--to-latest", is_flag=True, help="Reset to the end of each partition.")
@click.option(
    "--to-datetime",
    metavar="DATETIME",
    help="Reset to the first message at or after an ISO 8601 time with zone, "
    "such as 2025-01-31T12:00:00Z.",
)
@click.option(
    "--by-duration",
    metavar="DURATION",
    help="Reset to the first message at or after now minus an ISO 8601 "
    "duration, such as PT1H or P1DT12H.",
)
@click.option(
    "--shift-by",
    type=int,
    metavar="N",
    help="Move the committed offset by N messages (negative to go back).",
)
@click.option("--to-offset", type=int, metavar="N", help="Reset to offset N.")
@click.option(
    "--execute",
    is_flag=True,
    help="Write the new offsets. Without it nothing changes (dry run).",
)
@click.option(
    "--allow-new-group",
    is_flag=True,
    help="Let --execute write offsets for a group that has none on the "
    "topic yet. Without it such a reset fails, which catches misspelled "
    "group names.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@kafka_option
def reset(
    bootstrap_servers: str,
    group: str,
    topic: str,
    partitions: str | None,
    to_earliest: bool,
    to_latest: bool,
    to_datetime: str | None,
    by_duration: str | None,
    shift_by: int | None,
    to_offset: int | None,
    execute: bool,
    allow_new_group: bool,
    output_format: str,
    kafka_option: tuple[str, ...],
) -> None:
    """Reset the committed offsets of a stopped consumer group.

    Prints each partition's current offset, the new one and the difference.
    Offsets are clamped to the partition's earliest and end offsets. With
    --execute the new offsets are written, read back and compared; the
    group must have no running consumers (state Empty or Dead), and a
    committed offset on the topic unless --allow-new-group is given.

    Exit codes: 0 success or dry run, 1 failure (active group, group without
    committed offsets, broker error, offsets read back differ), 2 usage
    error.
    """
    target = _target(
        to_earliest, to_latest, to_datetime, by_duration, shift_by, to_offset
    )
    try:
        report = reset_offsets(
            bootstrap_servers,
            group,
            topic,
            target,
            partitions=parse_partition_list(partitions),
            execute=execute,
            allow_new_group=allow_new_group,
            options=KafkaOptions.parse(kafka_option),
        )
    except UnknownPartitionError as e:
        raise click.BadParameter(str(e), param_hint="--partitions") from e
    except (ResetError, KafkaAdminError) as e:
        raise click.ClickException(str(e)) from e

    _print_report(report, output_format)
    if report.mismatches:
        click.echo(
            "error: offsets read back differ from the ones written: "
            + ", ".join(
                f"partition {p} expected {want} got {got}"
                for p, (want, got) in sorted(report.mismatches.items())
            ),
            err=True,
        )
        sys.exit(1)


def _print_report(report: ResetReport, output_format: str) -> None:
    if output_format == "json":
        document = {
            "group": report.group,
            "topic": report.topic,
            "group_state": report.group_state,
            "executed": report.executed,
            "verified": report.verified,
            "partitions": [
                {
                    "partition": p.partition,
                    "before": p.before,
                    "after": p.after,
                    "delta": p.delta,
                    "clamped": p.clamped,
                }
                for p in report.plan
            ],
        }
        click.echo(json.dumps(document, indent=2))
    else:
        rows = [
            [report.group, report.topic, p.partition, p.before, p.after, p.delta]
            for p in report.plan
        ]
        headers = [
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "NEW-OFFSET",
            "DELTA",
        ]
        click.echo(render_table(headers, rows))
    clamped = [p.partition for p in report.plan if p.clamped]
    if clamped:
        click.echo(
            f"note: partitions {clamped} were clamped to their earliest or end offset",
            err=True,
        )
    if report.verified:
        click.echo("offsets written and verified", err=True)
    elif not report.executed:
        click.echo("dry run: nothing changed; add --execute to apply", err=True)
        if report.blocked_by:
            click.echo(
                f"warning: --execute would be rejected: {report.blocked_by}", err=True
            )
