"""librdkafka configuration for the producers, consumers and admin clients.

The defaults are for Apache Kafka in production. Any librdkafka property can
be added or overridden with `KafkaOptions`, which the CLI fills from the
repeatable `-O/--kafka-option KEY=VALUE` (or the environment variable
`SEER_BACKFILL_KAFKA_OPTION`, space-separated pairs). An option applies to
every client a command creates. A `producer:`, `consumer:` or `admin:`
prefix limits it to one kind of client, which keeps librdkafka from warning
about properties that the other kinds ignore. Options are applied last, so
they win over every default here. A command whose correctness depends on a
property's value (`run` for its group, cluster and commit settings) checks
the options with `KafkaOptions.reject_conflicts` and treats a different
value as a usage error.

Example for the tansu test broker, whose group joins take half the session
timeout and which needs a short fetch back-off for Arroyo's throughput:

    -O consumer:session.timeout.ms=6000 -O consumer:fetch.queue.backoff.ms=10

Every configuration built here sends librdkafka's log lines to the
rate-limited `client_logger()`. confluent-kafka delivers them when the
client is polled or closed, so a client that is neither keeps them queued.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import click

from consumers.cli.options import envvar_for
from consumers.kafka.client_logs import client_logger

ClientKind = Literal["producer", "consumer", "admin"]
CLIENT_KINDS: tuple[ClientKind, ...] = ("producer", "consumer", "admin")

# A librdkafka configuration. Values are Any because confluent-kafka also
# takes callables (`stats_cb`, `on_commit`) in the same mapping.
KafkaConfig = dict[str, Any]

F = TypeVar("F", bound=Callable[..., Any])

PRODUCER_DEFAULTS: Mapping[str, str | int | bool] = {
    # Retries inside librdkafka neither duplicate nor reorder messages.
    "enable.idempotence": True,
    "acks": "all",
    # The same codec as the topics' `compression.type`, so brokers store
    # batches as they arrive.
    "compression.type": "lz4",
    # The key-to-partition mapping of the Java client, so every producer of a
    # project's messages picks the same partition.
    "partitioner": "murmur2_random",
    # librdkafka's producer default is true (its CONFIGURATION.md, 2.x).
    # Metadata requests then ask the broker to create a missing topic with
    # the broker's default partition count, for example after the broker
    # lost its data. Topics come from `seer-backfill topics create` instead.
    "allow.auto.create.topics": False,
}


class KafkaOptionError(click.BadParameter):
    """An `-O/--kafka-option` value that is not `[KIND:]KEY=VALUE`."""


class KafkaOptionConflict(click.UsageError):
    """An `-O/--kafka-option` that sets a property the command sets itself."""


@dataclass(frozen=True)
class KafkaOptions:
    """Extra librdkafka properties: for every client, and per kind of client."""

    common: Mapping[str, str] = field(default_factory=dict)
    per_kind: Mapping[ClientKind, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, values: Iterable[str]) -> KafkaOptions:
        """Parse `[producer:|consumer:|admin:]KEY=VALUE` strings.

        Raises `KafkaOptionError` for a value without `=`, with an empty key,
        or with an unknown kind prefix.
        """
        common: dict[str, str] = {}
        per_kind: dict[ClientKind, dict[str, str]] = {kind: {} for kind in CLIENT_KINDS}
        for raw in values:
            key, sep, value = raw.partition("=")
            key = key.strip()
            if not sep or not key:
                raise KafkaOptionError(
                    f"invalid Kafka option {raw!r}: expected KEY=VALUE, "
                    "for example session.timeout.ms=6000"
                )
            kind, colon, name = key.partition(":")
            if not colon:
                common[key] = value
                continue
            if kind not in CLIENT_KINDS:
                raise KafkaOptionError(
                    f"invalid Kafka option {raw!r}: unknown client kind {kind!r}, "
                    f"expected one of {', '.join(CLIENT_KINDS)}"
                )
            per_kind[kind][name] = value
        return cls(common=common, per_kind=per_kind)

    def for_client(self, kind: ClientKind) -> dict[str, str]:
        """Return the options that apply to one kind of client.

        Common `arroyo.*` options go to consumers only: they are settings of
        Arroyo's consumer, and librdkafka rejects them as unknown properties.
        """
        common = self.common
        if kind != "consumer":
            common = {k: v for k, v in common.items() if not k.startswith("arroyo.")}
        return {**common, **self.per_kind.get(kind, {})}

    def option_text(self, kind: ClientKind, key: str) -> str | None:
        """Return the `-O` value that sets `key` for `kind`, as it was given.

        A per-kind option wins over a common one, as in `for_client`.
        Returns None when no option sets `key` for `kind`.
        """
        per_kind = self.per_kind.get(kind, {})
        if key in per_kind:
            return f"{kind}:{key}={per_kind[key]}"
        if key in self.common:
            return f"{key}={self.common[key]}"
        return None

    def reject_conflicts(
        self, kind: ClientKind, owned: Iterable[OwnedProperty]
    ) -> None:
        """Raise `KafkaOptionConflict` if an option contradicts an owned property.

        An option that sets an owned property (or one of its aliases) for
        `kind` to an equal value passes, so scripts may repeat a value.
        """
        options = self.for_client(kind)
        for prop in owned:
            for key in (prop.key, *prop.aliases):
                value = options.get(key)
                if value is None or prop.canonical(value) == prop.canonical(prop.value):
                    continue
                raw_option = self.option_text(kind, key)
                raise KafkaOptionConflict(prop.conflict_message(f"-O {raw_option}"))


def _stripped(value: str) -> str:
    return value.strip()


def canonical_servers(value: str) -> str:
    """Return a bootstrap server list without blanks around its commas."""
    return ",".join(server.strip() for server in value.split(","))


def canonical_bool(value: str) -> str:
    """Return "true" or "false" for the spellings librdkafka accepts.

    Arroyo's `as_kafka_configuration_bool`, which follows librdkafka's
    parser, reads true, t, 1, false, f and 0, ignoring case. Any other value
    is returned lowercased, so it matches neither.
    """
    lowered = value.strip().lower()
    if lowered in ("true", "t", "1"):
        return "true"
    if lowered in ("false", "f", "0"):
        return "false"
    return lowered


def canonical_int(value: str) -> str:
    """Return an integer in plain decimal form, or other text without blanks."""
    try:
        return str(int(value.strip()))
    except ValueError:
        return value.strip()


# Synonyms of `auto.offset.reset` that librdkafka and Arroyo accept.
_OFFSET_RESET_SYNONYMS = {
    "smallest": "earliest",
    "beginning": "earliest",
    "largest": "latest",
    "end": "latest",
}


def canonical_offset_reset(value: str) -> str:
    """Map `smallest` and `beginning` to `earliest`, `largest` and `end` to `latest`.

    librdkafka reads the value without regard to case, so neither does this.
    """
    lowered = value.strip().lower()
    return _OFFSET_RESET_SYNONYMS.get(lowered, lowered)


@dataclass(frozen=True)
class OwnedProperty:
    """A librdkafka property whose value a command sets itself.

    `option` is the command-line option that sets the value. Without one,
    the command always uses `value`, and the error message gives `reason`
    as the explanation. `aliases` are other librdkafka names of the same property.
    `canonical` maps a value to one spelling per meaning, so an option that
    repeats the command's value in another spelling does not conflict.
    """

    key: str
    value: str
    option: str | None = None
    reason: str = ""
    aliases: tuple[str, ...] = ()
    canonical: Callable[[str], str] = _stripped

    def conflict_message(self, raw_option: str) -> str:
        """Return the usage error for `raw_option`, which sets another value."""
        if self.option is not None:
            return (
                f"{raw_option} conflicts with {self.option}={self.value}. Set the "
                f"value with {self.option} only, or give both the same value."
            )
        return (
            f"{raw_option} conflicts with {self.key}={self.value}, which this command "
            f"sets because {self.reason}. Remove the -O option."
        )


# Consumer properties that Arroyo's consumer needs at false. It commits each
# offset itself once the strategy chain finished the message, and rejects the
# commit properties set to true (arroyo 2.48, without
# `arroyo.enable.auto.commit`).
ARROYO_COMMIT_REASON = (
    "Arroyo commits each offset itself, after the strategy chain finished the message"
)
ARROYO_OWNED_PROPERTIES = (
    OwnedProperty(
        "enable.auto.commit",
        "false",
        reason=ARROYO_COMMIT_REASON,
        canonical=canonical_bool,
    ),
    OwnedProperty(
        "enable.auto.offset.store",
        "false",
        reason=ARROYO_COMMIT_REASON,
        canonical=canonical_bool,
    ),
    OwnedProperty(
        "enable.partition.eof",
        "false",
        reason="Arroyo's consumer stops on a partition-end event",
        canonical=canonical_bool,
    ),
)


NO_OPTIONS = KafkaOptions()


def kafka_option(function: F) -> F:
    """Add the repeatable `-O/--kafka-option` to a click command.

    The command receives `kafka_option: tuple[str, ...]`; pass it to
    `KafkaOptions.parse`.
    """
    decorator = click.option(
        "--kafka-option",
        "-O",
        multiple=True,
        metavar="[KIND:]KEY=VALUE",
        envvar=envvar_for("--kafka-option"),
        show_envvar=True,
        help=(
            "Extra librdkafka property, repeatable. KIND (producer, consumer or "
            "admin) limits it to one kind of client. Example: "
            "-O consumer:session.timeout.ms=6000."
        ),
    )
    return decorator(function)


def producer_config(
    bootstrap_servers: str,
    options: KafkaOptions = NO_OPTIONS,
    *,
    client_id: str | None = None,
) -> KafkaConfig:
    """Configuration of an idempotent producer (confluent-kafka or Arroyo).

    The producer does not ask the broker to create the topics it writes to,
    unless `options` sets `allow.auto.create.topics`.
    """
    config: KafkaConfig = {"bootstrap.servers": bootstrap_servers}
    config.update(PRODUCER_DEFAULTS)
    if client_id is not None:
        config["client.id"] = client_id
    config.update(options.for_client("producer"))
    config["logger"] = client_logger()
    return config


def consumer_config(
    bootstrap_servers: str,
    group_id: str,
    auto_offset_reset: str = "earliest",
    options: KafkaOptions = NO_OPTIONS,
    *,
    strict_offset_reset: bool | None = None,
    enable_auto_commit: bool = False,
    client_id: str | None = None,
) -> KafkaConfig:
    """Configuration of Arroyo's `KafkaConsumer`, built by Arroyo's own builder.

    Offsets are committed by Arroyo's commit step only (`enable_auto_commit`
    False). The `-O` options are applied after Arroyo's builder, because the
    builder overwrites properties such as `queued.min.messages` that it sets
    itself.
    """
    from arroyo.backends.kafka.configuration import (
        build_kafka_consumer_configuration,
    )

    default_config: KafkaConfig = {}
    if client_id is not None:
        default_config["client.id"] = client_id
    config: KafkaConfig = build_kafka_consumer_configuration(
        default_config,
        group_id=group_id,
        auto_offset_reset=auto_offset_reset,
        bootstrap_servers=[bootstrap_servers],
        strict_offset_reset=strict_offset_reset,
        enable_auto_commit=enable_auto_commit,
    )
    config.update(options.for_client("consumer"))
    _arroyo_flags_as_bools(config)
    config["logger"] = client_logger()
    return config


# Arroyo's consumer flags that it reads by truthiness: the text "false" from
# `-O` would count as true, so they are passed on as real booleans.
_ARROYO_BOOLEAN_FLAGS = ("arroyo.strict.offset.reset",)


def _arroyo_flags_as_bools(config: KafkaConfig) -> None:
    for key in _ARROYO_BOOLEAN_FLAGS:
        value = config.get(key)
        if not isinstance(value, str):
            continue
        canonical = canonical_bool(value)
        if canonical not in ("true", "false"):
            raise KafkaOptionError(
                f"invalid Kafka option {key}={value!r}: expected true or false"
            )
        config[key] = canonical == "true"


def reader_config(
    bootstrap_servers: str,
    options: KafkaOptions = NO_OPTIONS,
    *,
    group_id: str | None = None,
) -> KafkaConfig:
    """Configuration of a plain confluent-kafka consumer that uses `assign()`.

    The operations commands read partitions directly and never join a group.
    confluent-kafka requires a `group.id` even then, so one is generated when
    none is given. Nothing is committed unless the caller commits.
    """
    config: KafkaConfig = {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group_id or f"seer-backfill-reader-{uuid.uuid4().hex[:12]}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
        "client.id": f"seer-backfill-ops-{os.getpid()}",
    }
    config.update(options.for_client("consumer"))
    config["logger"] = client_logger()
    return config


def admin_config(
    bootstrap_servers: str, options: KafkaOptions = NO_OPTIONS
) -> KafkaConfig:
    """Configuration of an `AdminClient`."""
    config: KafkaConfig = {"bootstrap.servers": bootstrap_servers}
    config.update(options.for_client("admin"))
    config["logger"] = client_logger()
    return config
