"""`seer-backfill lag`: a consumer group's lag per partition, with a status.

Exit codes: 0 success, 1 failure (topic or group cannot be queried), 2 usage
error, 3 the group's status is at or above `--fail-on`.
"""

from __future__ import annotations

import collections
import json
import sys
import time
from datetime import UTC, datetime

import click

from consumers.cli import options
from consumers.cli.offsets import parse_partition_list
from consumers.kafka.admin import KafkaAdminError, UnknownPartitionError
from consumers.kafka.config import KafkaOptions, kafka_option
from consumers.ops.lag import LagReader, LagSnapshot
from consumers.ops.lag_status import Status, evaluate_group, partition_windows
from consumers.ops.tables import render_table

EXIT_STATUS_REACHED = 3

HEADERS = [
    "GROUP",
    "TOPIC",
    "PARTITION",
    "CURRENT-OFFSET",
    "LOG-END-OFFSET",
    "LAG",
    "LAG-SECONDS",
    "CONSUMER-ID",
    "HOST",
    "CLIENT-ID",
    "STATUS",
]


def render(
    snapshot: LagSnapshot,
    group_status: Status,
    statuses: dict[int, Status],
    fmt: str,
    *,
    samples: int = 1,
) -> str:
    """Format a snapshot with the statuses, as a table or one JSON line.

    `samples` is how many samples the statuses were judged on. Only the JSON
    line contains it. The JSON field `committed` is false when the group has
    no committed offset on any selected partition.
    """
    if fmt == "json":
        taken_at = datetime.fromtimestamp(snapshot.taken_at, tz=UTC)
        document = {
            "group": snapshot.group,
            "topic": snapshot.topic,
            "taken_at": taken_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "group_state": snapshot.group_state.value,
            "committed": has_committed_offset(snapshot),
            "status": group_status.name,
            "samples": samples,
            "total_lag": snapshot.total_lag,
            "partitions": [
                {
                    "partition": p.partition,
                    "current_offset": p.committed,
                    "log_end_offset": p.log_end,
                    "lag": p.lag,
                    "lag_seconds": p.lag_seconds,
                    "consumer_id": p.consumer_id,
                    "host": p.host,
                    "client_id": p.client_id,
                    "status": statuses[p.partition].name,
                }
                for p in snapshot.partitions
            ],
        }
        return json.dumps(document)
    rows = [
        [
            snapshot.group,
            snapshot.topic,
            p.partition,
            p.committed,
            p.log_end,
            p.lag,
            p.lag_seconds,
            p.consumer_id,
            p.host,
            p.client_id,
            statuses[p.partition].name,
        ]
        for p in snapshot.partitions
    ]
    footer = (
        f"\ngroup status: {group_status.name} (state {snapshot.group_state.value}, "
        f"total lag {snapshot.total_lag})"
    )
    return render_table(HEADERS, rows) + footer


def has_committed_offset(snapshot: LagSnapshot) -> bool:
    """Return whether the group has a committed offset on any selected partition."""
    return any(p.committed is not None for p in snapshot.partitions)


def no_commit_note(snapshot: LagSnapshot) -> str:
    # A mistyped --group name looks like a stopped group, so the note names it.
    return (
        f"note: group {snapshot.group!r} has no committed offset on any selected "
        f"partition of topic {snapshot.topic!r}; check the --group name, or the "
        "group has not committed yet"
    )


@click.command()
@options.bootstrap_servers
@click.option(
    "--group",
    default=options.DEFAULT_CONSUMER_GROUP,
    show_default=True,
    # The same variable as `run --consumer-group`, so that both commands
    # name the group the consumer runs as.
    envvar=options.envvar_for("--consumer-group"),
    show_envvar=True,
    help="Consumer group to inspect.",
)
@options.setting(
    "--topic", default=options.INPUT_TOPIC, show_default=True, help="Topic to inspect."
)
@click.option(
    "--partitions",
    default=None,
    help="Comma-separated partition numbers, such as 0,1 [default: all].",
)
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Samples the status is judged on; WARN and STALL need at least 2.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Seconds between samples without --watch.",
)
@click.option(
    "--watch",
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
    help="Print again every SECONDS, judging the last --samples samples, until "
    "interrupted.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["WARN", "STALL", "STOP"], case_sensitive=False),
    help="Exit with code 3 when the group's status is this or worse.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table: one table of the newest sample. json: one JSON object per "
    "line for each sample (JSON Lines), printed as it is taken; its samples "
    "field counts the samples its status was judged on.",
)
@click.option(
    "--fetch-timeout",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds to wait for the next unconsumed messages (for LAG-SECONDS).",
)
@kafka_option
def lag(
    bootstrap_servers: str,
    group: str,
    topic: str,
    partitions: str | None,
    samples: int,
    interval: float,
    watch: float | None,
    fail_on: str | None,
    output_format: str,
    fetch_timeout: float,
    kafka_option: tuple[str, ...],
) -> None:
    """Show a consumer group's lag per partition and judge its progress.

    Columns are those of kafka-consumer-groups --describe, plus LAG-SECONDS
    (age of the oldest unconsumed message) and STATUS: OK, WARN (consumers
    fall behind), STALL (consumers run, the offset does not move) or STOP
    (work is waiting and no consumer runs), judged over the samples. When
    the group has no committed offset on any partition (as for a mistyped
    --group), a note goes to stderr, and the JSON field committed is false.

    Exit codes: 0 success, 1 failure, 2 usage error, 3 status at or above
    --fail-on.
    """
    threshold = Status[fail_on.upper()] if fail_on else None
    window: collections.deque[LagSnapshot] = collections.deque(maxlen=samples)
    try:
        with LagReader(
            bootstrap_servers,
            group,
            topic,
            partitions=parse_partition_list(partitions),
            options=KafkaOptions.parse(kafka_option),
            fetch_timeout=fetch_timeout,
        ) as reader:
            if watch is None:
                for i in range(samples):
                    if i:
                        time.sleep(interval)
                    window.append(reader.sample())
                    # JSON Lines: every sample but the last is printed as it
                    # is taken, and the last one by `_report` below.
                    if output_format == "json" and i < samples - 1:
                        _print_newest(window, output_format)
                _report(window, output_format, threshold)
                return
            while True:
                window.append(reader.sample())
                _report(window, output_format, threshold)
                if output_format == "table":
                    click.echo()
                time.sleep(watch)
    except UnknownPartitionError as e:
        raise click.BadParameter(str(e), param_hint="--partitions") from e
    except KafkaAdminError as e:
        raise click.ClickException(str(e)) from e


def _print_newest(window: collections.deque[LagSnapshot], fmt: str) -> Status:
    """Print the newest sample judged over `window`; return the group's status."""
    group_status, statuses = evaluate_group(partition_windows(window))
    newest = window[-1]
    click.echo(render(newest, group_status, statuses, fmt, samples=len(window)))
    if fmt == "table" and not has_committed_offset(newest):
        click.echo(no_commit_note(newest), err=True)
    return group_status


def _report(
    window: collections.deque[LagSnapshot], fmt: str, threshold: Status | None
) -> None:
    """Print the newest sample, and exit with code 3 if `threshold` is reached."""
    group_status = _print_newest(window, fmt)
    if threshold is not None and group_status >= threshold:
        click.echo(
            f"status {group_status.name} is at or above --fail-on {threshold.name}",
            err=True,
        )
        sys.exit(EXIT_STATUS_REACHED)
