"""`seer-backfill dlq`: list dead-lettered messages and replay them.

Exit codes: 0 success (every matched message replayed, or a dry run or
list), 1 failure (a delivery failed, a message has no target topic, the
broker could not be read), 2 usage error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from consumers.cli import options
from consumers.kafka.admin import KafkaAdminError, UnknownPartitionError
from consumers.kafka.config import (
    KafkaOptions,
    OwnedProperty,
    canonical_bool,
    kafka_option,
)
from consumers.messages import INVALID_BATCH_REASONS
from consumers.ops.dlq import (
    DlqFilter,
    DlqReader,
    DlqReadError,
    DlqRecord,
    replay,
    summarize,
)
from consumers.ops.tables import render_table
from consumers.pipeline.dead_letter import DEAD_LETTER_REASONS

F = TypeVar("F", bound=Callable[..., Any])


def selection_options(function: F) -> F:
    """Add the options shared by `list` and `replay` that select DLQ messages."""
    decorators = [
        options.bootstrap_servers,
        options.setting(
            "--dlq-topic",
            default=options.DLQ_TOPIC,
            show_default=True,
            help="Dead-letter topic to read.",
        ),
        click.option(
            "--reason",
            multiple=True,
            type=click.Choice(DEAD_LETTER_REASONS),
            help="Only messages with this reason header, such as seer_rejected; "
            "repeatable.",
        ),
        click.option(
            "--partition",
            type=click.IntRange(min=0),
            multiple=True,
            help="DLQ partition to read; repeatable [default: all].",
        ),
        click.option(
            "--from-offset",
            type=click.IntRange(min=0),
            help="First DLQ offset to read, inclusive.",
        ),
        click.option(
            "--to-offset",
            type=click.IntRange(min=0),
            help="Last DLQ offset to read, inclusive.",
        ),
        click.option(
            "--group",
            help="Consumer group that stores progress: reading starts at its "
            "committed offsets, and a successful replay commits [default: none].",
        ),
        click.option(
            "--idle-timeout",
            type=click.FloatRange(min=1),
            default=30.0,
            show_default=True,
            help="Seconds without a message before the end that count as a failure.",
        ),
        kafka_option,
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def _reader(
    bootstrap_servers: str,
    dlq_topic: str,
    reason: tuple[str, ...],
    partition: tuple[int, ...],
    from_offset: int | None,
    to_offset: int | None,
    group: str | None,
    idle_timeout: float,
    kafka_option: tuple[str, ...],
) -> DlqReader:
    if from_offset is not None and to_offset is not None and from_offset > to_offset:
        raise click.BadParameter(
            f"--from-offset {from_offset} is after --to-offset {to_offset}",
            param_hint="--from-offset",
        )
    selection = DlqFilter(
        reasons=frozenset(reason),
        partitions=tuple(partition) or None,
        from_offset=from_offset,
        to_offset=to_offset,
    )
    kafka_options = KafkaOptions.parse(kafka_option)
    if group is not None:
        # The committed offsets of --group mark what was replayed, so -O
        # must not move them to another group or let librdkafka commit
        # positions that were read but not replayed.
        kafka_options.reject_conflicts(
            "consumer",
            [
                OwnedProperty("group.id", group, option="--group"),
                OwnedProperty(
                    "enable.auto.commit",
                    "false",
                    reason=(
                        "only a replay that delivered every message commits, "
                        "and list or --dry-run never commits"
                    ),
                    canonical=canonical_bool,
                ),
            ],
        )
    return DlqReader(
        bootstrap_servers,
        dlq_topic,
        selection,
        group=group,
        options=kafka_options,
        idle_timeout=idle_timeout,
    )


def _iso(timestamp_ms: int | None) -> str | None:
    if timestamp_ms is None:
        return None
    moment = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _key_text(key: bytes | None) -> str | None:
    return None if key is None else key.decode("utf-8", "replace")


def record_json(record: DlqRecord) -> dict[str, object]:
    return {
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": _iso(record.timestamp_ms),
        "reason": record.reason,
        "reason_detail": record.reason_detail,
        "original_topic": record.original_topic,
        "original_partition": record.original_partition,
        "original_offset": record.original_offset,
        "key": _key_text(record.key),
        "size": record.size,
    }


def _original(record: DlqRecord) -> str | None:
    if record.original_topic is None:
        return None
    return (
        f"{record.original_topic}[{record.original_partition}]@{record.original_offset}"
    )


@click.group()
def dlq() -> None:
    """Inspect and replay the dead-letter topic."""


@dlq.command("list")
@selection_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Table, or one JSON object per message.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Stop after this many matching messages.",
)
def list_(output_format: str, limit: int | None, **selection: Any) -> None:
    """List dead-lettered messages: reason, coordinates, key and size in bytes.

    With --group, lists the messages a replay with that group would read
    next. Listing never commits.

    Exit codes: 0 success, 1 the DLQ could not be read, 2 usage error.
    """
    records: list[DlqRecord] = []
    try:
        with _reader(**selection) as reader:
            for record in reader.records():
                records.append(record)
                if limit is not None and len(records) >= limit:
                    break
    except UnknownPartitionError as e:
        raise click.BadParameter(str(e), param_hint="--partition") from e
    except (DlqReadError, KafkaAdminError) as e:
        raise click.ClickException(str(e)) from e

    if output_format == "json":
        for record in records:
            click.echo(json.dumps(record_json(record)))
        return
    rows = [
        [
            r.partition,
            r.offset,
            _iso(r.timestamp_ms),
            r.reason,
            _original(r),
            _key_text(r.key),
            r.size,
        ]
        for r in records
    ]
    headers = ["PARTITION", "OFFSET", "TIMESTAMP", "REASON", "ORIGINAL", "KEY", "SIZE"]
    click.echo(render_table(headers, rows))
    counts = ", ".join(f"{k}: {v}" for k, v in summarize(records).items())
    click.echo(
        f"{len(records)} messages" + (f" ({counts})" if counts else ""), err=True
    )


@dlq.command("replay")
@selection_options
@click.option(
    "--to-topic",
    help="Topic to produce to [default: each message's original_topic header].",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print what would be replayed, as JSON lines; produce and commit nothing.",
)
def replay_command(to_topic: str | None, dry_run: bool, **selection: Any) -> None:
    """Re-produce dead-lettered messages to their source topic.

    Each replayed message keeps its key, value and own headers, and gets the
    headers dlq_original_topic, dlq_original_partition, dlq_original_offset,
    dlq_reason, dlq_partition and dlq_offset. Reads up to the end offsets at
    start time.

    Exit codes: 0 success or dry run, 1 a delivery failed, a message has no
    target topic or the DLQ could not be read, 2 usage error.
    """
    try:
        with _reader(**selection) as reader:
            result = replay(
                reader,
                selection["bootstrap_servers"],
                to_topic=to_topic,
                dry_run=dry_run,
                options=KafkaOptions.parse(selection["kafka_option"]),
            )
    except UnknownPartitionError as e:
        raise click.BadParameter(str(e), param_hint="--partition") from e
    except (DlqReadError, KafkaAdminError) as e:
        raise click.ClickException(str(e)) from e

    for target, record in result.planned:
        click.echo(json.dumps({"to_topic": target, **record_json(record)}))
    failed = len(result.delivery.failed)
    summary = (
        f"read: {result.read}, matched: {result.matched}, "
        f"replayed: {result.delivery.delivered}, failed: {failed}, "
        f"without target topic: {len(result.skipped_no_target)}"
    )
    click.echo(("dry run: " if dry_run else "") + summary, err=dry_run)
    invalid = {
        reason: count
        for reason, count in result.reasons.items()
        if reason in INVALID_BATCH_REASONS
    }
    if invalid:
        counts = ", ".join(f"{reason}: {count}" for reason, count in invalid.items())
        total = sum(invalid.values())
        subject = "1 message was" if total == 1 else f"{total} messages were"
        click.echo(
            f"warning: {subject} dead-lettered as invalid ({counts}); the consumer "
            "dead-letters them again unless its validation changed. Select "
            "seer_rejected with --reason to replay only the messages that can "
            "succeed.",
            err=True,
        )
    if not result.ok:
        for failure in result.delivery.failed[:10]:
            click.echo(f"  {failure.message.label}: {failure.error}", err=True)
        for record in result.skipped_no_target[:10]:
            click.echo(
                f"  {record.topic}[{record.partition}]@{record.offset}: no "
                "original_topic header; pass --to-topic",
                err=True,
            )
        sys.exit(1)
