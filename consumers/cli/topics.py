"""`seer-backfill topics`: create and list the topics defined in `topics/*.yaml`.

Exit codes: 0 success, 1 broker or definition error, 2 usage error.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from confluent_kafka.admin import AdminClient

from consumers.cli import options
from consumers.kafka.admin import KafkaAdminError
from consumers.kafka.config import KafkaOptions, admin_config, kafka_option
from consumers.kafka.topics import (
    TopicCreation,
    TopicDefinition,
    TopicDefinitionError,
    config_differences,
    create_topics,
    default_topics_dir,
    existing_topics,
    load_topic_definitions,
)
from consumers.ops.tables import render_table

topics_dir_option = click.option(
    "--topics-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of the topic definition files [default: topics/ of the "
    "source tree, or $SEER_BACKFILL_TOPICS_DIR].",
)


def _definitions(topics_dir: Path | None) -> list[TopicDefinition]:
    try:
        return load_topic_definitions(topics_dir or default_topics_dir())
    except TopicDefinitionError as e:
        raise click.ClickException(str(e)) from e


def _admin(bootstrap_servers: str, kafka_option: tuple[str, ...]) -> AdminClient:
    """Return an admin client configured by the command's -O options."""
    return AdminClient(
        admin_config(bootstrap_servers, KafkaOptions.parse(kafka_option))
    )


@click.group()
def topics() -> None:
    """Create and inspect the backfill's Kafka topics."""


@topics.command("create")
@options.bootstrap_servers
@topics_dir_option
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Partitions of each new topic: the maximum number of consumers that "
    "share the work.",
)
@click.option(
    "--replication-factor",
    type=int,
    default=-1,
    show_default=True,
    help="Replicas of each partition; -1 uses the broker's default.replication.factor.",
)
@kafka_option
def create(
    bootstrap_servers: str,
    topics_dir: Path | None,
    partitions: int,
    replication_factor: int,
    kafka_option: tuple[str, ...],
) -> None:
    """Create every defined topic that does not exist yet.

    Safe to run again: existing topics are reported and left unchanged,
    including their partition count. When an existing topic has another
    partition count than --partitions, its output line shows both counts and
    a warning goes to stderr, but the exit code stays 0.

    Exit codes: 0 success (topics created or already there), 1 a definition
    is invalid or the broker request failed, 2 usage error.
    """
    if replication_factor == 0 or replication_factor < -1:
        raise click.BadParameter(
            f"{replication_factor} is not valid; use -1 or a positive number",
            param_hint="--replication-factor",
        )
    definitions = _definitions(topics_dir)
    admin = _admin(bootstrap_servers, kafka_option)
    try:
        results = create_topics(admin, definitions, partitions, replication_factor)
    except KafkaAdminError as e:
        raise click.ClickException(str(e)) from e
    finally:
        # Hands librdkafka's queued lines to the rate-limited logger.
        admin.poll(0)
    for result in results:
        counts = f"{result.partitions} partitions"
        if result.partitions_differ:
            counts += f", not the {partitions} of --partitions"
        click.echo(f"{result.name}: {result.status.value} ({counts})")
    for result in results:
        if result.partitions_differ:
            click.echo(_partition_warning(result), err=True)


def _partition_warning(result: TopicCreation) -> str:
    return (
        f"warning: topic {result.name!r} has {result.partitions} partitions, not "
        f"the {result.requested_partitions} requested with --partitions, and was "
        f"left unchanged. At most {result.partitions} consumers of a group can "
        "share it. To change the count, recreate the topic while no run is in "
        "flight. Adding partitions instead moves keys to other partitions, so "
        "the messages of one key are no longer in one partition's order."
    )


@topics.command("list")
@options.bootstrap_servers
@topics_dir_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@kafka_option
def list_(
    bootstrap_servers: str,
    topics_dir: Path | None,
    output_format: str,
    kafka_option: tuple[str, ...],
) -> None:
    """List the defined topics: whether they exist, partitions, config drift.

    CONFIG is `ok` when every `topic_creation_config` value matches the
    broker, otherwise the names of the configs that differ.

    Exit codes: 0 success, 1 a definition is invalid or the broker request
    failed, 2 usage error.
    """
    definitions = _definitions(topics_dir)
    admin = _admin(bootstrap_servers, kafka_option)
    try:
        present = existing_topics(admin)
        existing = [d for d in definitions if d.name in present]
        differences = config_differences(admin, existing) if existing else {}
    except KafkaAdminError as e:
        raise click.ClickException(str(e)) from e
    finally:
        admin.poll(0)

    if output_format == "json":
        rows = [
            {
                "topic": d.name,
                "exists": d.name in present,
                "partitions": present.get(d.name),
                "config_differences": {
                    key: {"defined": expected, "broker": actual}
                    for key, (expected, actual) in differences.get(d.name, {}).items()
                },
                "description": d.description,
            }
            for d in definitions
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    table: list[list[str | int | None]] = [
        [
            d.name,
            "yes" if d.name in present else "no",
            present.get(d.name),
            _config_cell(d.name in present, differences.get(d.name, {})),
        ]
        for d in definitions
    ]
    click.echo(render_table(["TOPIC", "EXISTS", "PARTITIONS", "CONFIG"], table))


def _config_cell(exists: bool, diff: dict[str, tuple[str, str | None]]) -> str | None:
    if not exists:
        return None
    if not diff:
        return "ok"
    return "differs: " + ", ".join(sorted(diff))
