"""Topic definitions (`topics/*.yaml`) and idempotent topic creation.

A definition file is named after its topic and has the keys of
sentry-kafka-schemas' topic files: `topic` (optional, equal to the file
name), `description`, `services` (`producers`,
`consumers`), `schemas` (`version`, `type`, `resource`, `examples`) and
`topic_creation_config` (topic-level Kafka configs such as
`compression.type`, `retention.ms`, `max.message.bytes`).
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    NewTopic,
)

from consumers.kafka.admin import DEFAULT_TIMEOUT, KafkaAdminError, error_text

logger = logging.getLogger(__name__)

TOPICS_DIR_ENV = "SEER_BACKFILL_TOPICS_DIR"


class TopicDefinitionError(ValueError):
    """A topic definition file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class TopicSchema:
    version: int
    type: str
    resource: str | None
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class TopicDefinition:
    """One `topics/<name>.yaml` file."""

    name: str
    description: str
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    schemas: tuple[TopicSchema, ...]
    creation_config: Mapping[str, str] = field(default_factory=dict)


class CreationStatus(enum.Enum):
    CREATED = "created"
    EXISTS = "exists"


@dataclass(frozen=True)
class TopicCreation:
    """The result for one topic: `partitions` is its count on the cluster.

    An existing topic keeps its count, which can differ from the
    `requested_partitions` of the creation request.
    """

    name: str
    status: CreationStatus
    partitions: int
    requested_partitions: int

    @property
    def partitions_differ(self) -> bool:
        return self.partitions != self.requested_partitions


def default_topics_dir() -> Path:
    """`$SEER_BACKFILL_TOPICS_DIR`, else `topics/` at the root of the source tree."""
    configured = os.environ.get(TOPICS_DIR_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "topics"


def _config_value(value: object) -> str:
    # Kafka topic configs are strings; YAML turns `true` and `604800000`
    # into other types.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _strings(path: Path, key: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TopicDefinitionError(f"{path}: {key} must be a list of strings")
    return tuple(value)


def _parse_schema(path: Path, raw: object) -> TopicSchema:
    if not isinstance(raw, dict):
        raise TopicDefinitionError(f"{path}: each item of schemas must be a map")
    version = raw.get("version")
    kind = raw.get("type")
    if not isinstance(version, int) or not isinstance(kind, str):
        raise TopicDefinitionError(
            f"{path}: a schema needs an integer version and a string type"
        )
    resource = raw.get("resource")
    return TopicSchema(
        version=version,
        type=kind,
        resource=str(resource) if resource is not None else None,
        examples=_strings(path, "schemas[].examples", raw.get("examples")),
    )


def parse_topic_definition(path: Path) -> TopicDefinition:
    """Read one definition file; raise `TopicDefinitionError` when it is invalid."""
    try:
        data: Any = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise TopicDefinitionError(f"{path}: cannot read topic definition: {e}") from e
    if not isinstance(data, dict):
        raise TopicDefinitionError(f"{path}: expected a YAML map at the top level")

    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        raise TopicDefinitionError(f"{path}: description is missing")
    services = data.get("services") or {}
    if not isinstance(services, dict):
        raise TopicDefinitionError(f"{path}: services must be a map")
    schemas = data.get("schemas") or []
    if not isinstance(schemas, list):
        raise TopicDefinitionError(f"{path}: schemas must be a list")
    creation = data.get("topic_creation_config") or {}
    if not isinstance(creation, dict):
        raise TopicDefinitionError(f"{path}: topic_creation_config must be a map")
    name = data.get("topic", path.stem)
    if name != path.stem:
        raise TopicDefinitionError(
            f"{path}: topic {name!r} differs from the file name; rename one of them"
        )

    return TopicDefinition(
        name=path.stem,
        description=description.strip(),
        producers=_strings(path, "services.producers", services.get("producers")),
        consumers=_strings(path, "services.consumers", services.get("consumers")),
        schemas=tuple(_parse_schema(path, s) for s in schemas),
        creation_config={str(k): _config_value(v) for k, v in creation.items()},
    )


def load_topic_definitions(directory: Path) -> list[TopicDefinition]:
    """Load every `*.yaml` definition in `directory`, sorted by topic name."""
    if not directory.is_dir():
        raise TopicDefinitionError(
            f"topic definitions directory {directory} not found; pass --topics-dir "
            f"or set {TOPICS_DIR_ENV}"
        )
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise TopicDefinitionError(f"no *.yaml topic definitions in {directory}")
    return [parse_topic_definition(path) for path in paths]


def existing_topics(
    admin: AdminClient, timeout: float = DEFAULT_TIMEOUT
) -> dict[str, int]:
    """Topic name -> partition count of every topic on the cluster."""
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as e:
        raise KafkaAdminError(f"listing topics failed: {error_text(e, timeout)}") from e
    return {
        name: len(topic.partitions)
        for name, topic in metadata.topics.items()
        if topic.error is None
    }


def create_topics(
    admin: AdminClient,
    definitions: Sequence[TopicDefinition],
    partitions: int,
    replication_factor: int = -1,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[TopicCreation]:
    """Create the topics that do not exist yet, with their `topic_creation_config`.

    Safe to run again: an existing topic is left as it is, configs and
    partition count included, and reported as `EXISTS` with the partition
    count it has. A replication factor of -1 uses the broker's
    `default.replication.factor`.
    """
    present = existing_topics(admin, timeout)
    missing = [d for d in definitions if d.name not in present]
    results = {
        d.name: TopicCreation(
            d.name, CreationStatus.EXISTS, present[d.name], partitions
        )
        for d in definitions
        if d.name in present
    }
    if missing:
        new_topics = [
            NewTopic(
                d.name,
                num_partitions=partitions,
                replication_factor=replication_factor,
                config=dict(d.creation_config),
            )
            for d in missing
        ]
        futures = admin.create_topics(
            new_topics, operation_timeout=timeout, request_timeout=timeout
        )
        created = {
            name: _created(name, future, partitions, timeout)
            for name, future in futures.items()
        }
        # Another process created these between the listing and the request,
        # with a partition count of its own.
        raced = [name for name, is_new in created.items() if not is_new]
        present = existing_topics(admin, timeout) if raced else present
        for name, is_new in created.items():
            if is_new:
                results[name] = TopicCreation(
                    name, CreationStatus.CREATED, partitions, partitions
                )
            else:
                results[name] = TopicCreation(
                    name, CreationStatus.EXISTS, present.get(name, 0), partitions
                )
    return [results[d.name] for d in definitions]


def _created(name: str, future: Any, partitions: int, timeout: float) -> bool:
    """Return True when the request created the topic, False when it existed."""
    try:
        future.result(timeout=timeout)
    except KafkaException as e:
        error = e.args[0] if e.args else None
        if (
            isinstance(error, KafkaError)
            and error.code() == KafkaError.TOPIC_ALREADY_EXISTS
        ):
            return False
        raise KafkaAdminError(
            f"creating topic {name!r} failed: {error_text(e, timeout)}"
        ) from e
    logger.info("created topic %s with %d partitions", name, partitions)
    return True


def config_differences(
    admin: AdminClient,
    definitions: Iterable[TopicDefinition],
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, dict[str, tuple[str, str | None]]]:
    """Per existing topic, the configs whose value differs from its definition.

    Returns topic -> config name -> (defined value, value on the broker).
    """
    resources = {d.name: ConfigResource("topic", d.name) for d in definitions}
    futures = admin.describe_configs(list(resources.values()), request_timeout=timeout)
    by_resource = {str(resource): future for resource, future in futures.items()}
    differences: dict[str, dict[str, tuple[str, str | None]]] = {}
    for definition in definitions:
        future = by_resource[str(resources[definition.name])]
        try:
            actual = future.result(timeout=timeout)
        except KafkaException as e:
            raise KafkaAdminError(
                f"describing configs of topic {definition.name!r} failed: "
                f"{error_text(e, timeout)}"
            ) from e
        diff = {
            key: (expected, actual[key].value if key in actual else None)
            for key, expected in definition.creation_config.items()
            if key not in actual or actual[key].value != expected
        }
        if diff:
            differences[definition.name] = diff
    return differences
