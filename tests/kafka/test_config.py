"""Client configuration builders and the `-O/--kafka-option` parser."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from consumers.kafka.client_logs import client_logger
from consumers.kafka.config import (
    ARROYO_OWNED_PROPERTIES,
    KafkaOptionConflict,
    KafkaOptionError,
    KafkaOptions,
    OwnedProperty,
    admin_config,
    canonical_bool,
    canonical_int,
    canonical_offset_reset,
    canonical_servers,
    consumer_config,
    kafka_option,
    producer_config,
    reader_config,
)


def test_options_common_and_per_kind() -> None:
    options = KafkaOptions.parse(
        ["socket.timeout.ms=5000", "consumer:session.timeout.ms=6000"]
    )
    assert options.for_client("consumer") == {
        "socket.timeout.ms": "5000",
        "session.timeout.ms": "6000",
    }
    assert options.for_client("producer") == {"socket.timeout.ms": "5000"}


def test_options_kind_wins_over_common() -> None:
    options = KafkaOptions.parse(["linger.ms=5", "producer:linger.ms=0"])
    assert options.for_client("producer")["linger.ms"] == "0"


def test_options_value_with_separators() -> None:
    options = KafkaOptions.parse(["bootstrap.servers=a:1,b:2"])
    assert options.for_client("admin") == {"bootstrap.servers": "a:1,b:2"}


@pytest.mark.parametrize("raw", ["novalue", "=x", "broker:linger.ms=1"])
def test_options_invalid(raw: str) -> None:
    with pytest.raises(KafkaOptionError, match="invalid Kafka option"):
        KafkaOptions.parse([raw])


def test_producer_defaults() -> None:
    config = producer_config("k:9092")
    assert config["bootstrap.servers"] == "k:9092"
    assert config["enable.idempotence"] is True
    assert config["acks"] == "all"
    assert config["partitioner"] == "murmur2_random"
    assert config["allow.auto.create.topics"] is False


def test_producer_override_wins() -> None:
    config = producer_config("k:9092", KafkaOptions.parse(["producer:acks=1"]))
    assert config["acks"] == "1"


def test_producer_auto_create_from_option() -> None:
    options = KafkaOptions.parse(["producer:allow.auto.create.topics=true"])
    config = producer_config("k:9092", options)
    assert config["allow.auto.create.topics"] == "true"


def test_consumer_config_for_arroyo() -> None:
    config = consumer_config("k:9092", "g", "latest")
    assert config["group.id"] == "g"
    assert config["auto.offset.reset"] == "latest"
    assert config["enable.auto.commit"] is False
    assert config["arroyo.enable.auto.commit"] is False
    assert config["bootstrap.servers"] == "k:9092"


def test_consumer_override_beats_arroyo_builder() -> None:
    # Arroyo's builder sets queued.min.messages itself; -O must still win.
    options = KafkaOptions.parse(
        ["consumer:queued.min.messages=10", "consumer:session.timeout.ms=6000"]
    )
    config = consumer_config("k:9092", "g", options=options)
    assert config["queued.min.messages"] == "10"
    assert config["session.timeout.ms"] == "6000"


@pytest.mark.parametrize(("text", "expected"), [("false", False), ("TRUE", True)])
def test_arroyo_strict_offset_reset_becomes_a_bool(text: str, expected: bool) -> None:
    # Arroyo tests the flag's truthiness, so the text "false" must not pass.
    options = KafkaOptions.parse([f"consumer:arroyo.strict.offset.reset={text}"])
    config = consumer_config("k:9092", "g", options=options)
    assert config["arroyo.strict.offset.reset"] is expected


def test_arroyo_strict_offset_reset_rejects_other_text() -> None:
    options = KafkaOptions.parse(["consumer:arroyo.strict.offset.reset=maybe"])
    with pytest.raises(KafkaOptionError, match="expected true or false"):
        consumer_config("k:9092", "g", options=options)


def test_consumer_ignores_producer_options() -> None:
    config = consumer_config(
        "k:9092", "g", options=KafkaOptions.parse(["producer:acks=1"])
    )
    assert "acks" not in config


def test_reader_config_generated_group() -> None:
    first = reader_config("k:9092")
    second = reader_config("k:9092")
    assert first["group.id"] != second["group.id"]
    assert first["enable.auto.commit"] is False
    assert first["enable.partition.eof"] is True


def test_reader_config_given_group() -> None:
    assert reader_config("k:9092", group_id="mine")["group.id"] == "mine"


@click.command()
@kafka_option
def show(kafka_option: tuple[str, ...]) -> None:
    click.echo(repr(KafkaOptions.parse(kafka_option).for_client("consumer")))


def test_kafka_option_flag() -> None:
    result = CliRunner().invoke(show, ["-O", "a=1", "--kafka-option", "consumer:b=2"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "{'a': '1', 'b': '2'}"


def test_kafka_option_env() -> None:
    result = CliRunner().invoke(
        show, [], env={"SEER_BACKFILL_KAFKA_OPTION": "a=1 consumer:b=2"}
    )
    assert result.stdout.strip() == "{'a': '1', 'b': '2'}"


def test_kafka_option_invalid_is_usage_error() -> None:
    result = CliRunner().invoke(show, ["-O", "nonsense"])
    assert result.exit_code == 2
    assert "expected KEY=VALUE" in result.stderr


GROUP = OwnedProperty("group.id", "backfill", option="--consumer-group")
SERVERS = OwnedProperty(
    "bootstrap.servers",
    "a:1,b:2",
    option="--bootstrap-servers",
    aliases=("metadata.broker.list",),
    canonical=canonical_servers,
)


@pytest.mark.parametrize(
    ("raw", "given"),
    [
        ("consumer:group.id=other", "-O consumer:group.id=other"),
        ("group.id=other", "-O group.id=other"),
    ],
)
def test_conflict_names_both_options(raw: str, given: str) -> None:
    options = KafkaOptions.parse([raw])
    with pytest.raises(KafkaOptionConflict) as caught:
        options.reject_conflicts("consumer", [GROUP])
    message = caught.value.format_message()
    assert message.startswith(f"{given} conflicts with --consumer-group=backfill.")
    assert "Set the value with --consumer-group only" in message
    assert caught.value.exit_code == 2


def test_conflict_equal_value_accepted() -> None:
    options = KafkaOptions.parse(["consumer:group.id=backfill"])
    options.reject_conflicts("consumer", [GROUP])


def test_conflict_other_kind_ignored() -> None:
    options = KafkaOptions.parse(["producer:group.id=other"])
    options.reject_conflicts("consumer", [GROUP])


def test_conflict_per_kind_value_wins() -> None:
    # The consumer gets the per-kind value, which equals the owned one.
    options = KafkaOptions.parse(["group.id=other", "consumer:group.id=backfill"])
    options.reject_conflicts("consumer", [GROUP])


def test_conflict_through_alias() -> None:
    options = KafkaOptions.parse(["producer:metadata.broker.list=c:3"])
    with pytest.raises(
        KafkaOptionConflict, match=r"-O producer:metadata\.broker\.list=c:3 conflicts"
    ):
        options.reject_conflicts("producer", [SERVERS])


def test_conflict_servers_spacing_accepted() -> None:
    options = KafkaOptions.parse(["bootstrap.servers= a:1 , b:2"])
    options.reject_conflicts("admin", [SERVERS])


def test_conflict_fixed_value_gives_reason() -> None:
    options = KafkaOptions.parse(["consumer:enable.auto.commit=true"])
    with pytest.raises(KafkaOptionConflict) as caught:
        options.reject_conflicts("consumer", ARROYO_OWNED_PROPERTIES)
    message = caught.value.format_message()
    assert message.startswith(
        "-O consumer:enable.auto.commit=true conflicts with enable.auto.commit=false"
    )
    assert "Arroyo commits each offset itself" in message
    assert message.endswith("Remove the -O option.")


@pytest.mark.parametrize("value", ["false", "False", "f", "0"])
def test_conflict_false_spellings_accepted(value: str) -> None:
    options = KafkaOptions.parse([f"consumer:enable.auto.offset.store={value}"])
    options.reject_conflicts("consumer", ARROYO_OWNED_PROPERTIES)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("TRUE", "true"), ("t", "true"), ("1", "true"), ("F", "false"), ("2", "2")],
)
def test_canonical_bool(value: str, expected: str) -> None:
    assert canonical_bool(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("smallest", "earliest"),
        ("beginning", "earliest"),
        ("largest", "latest"),
        ("end", "latest"),
        ("error", "error"),
    ],
)
def test_canonical_offset_reset(value: str, expected: str) -> None:
    assert canonical_offset_reset(value) == expected


def test_canonical_int() -> None:
    assert canonical_int(" 0300000") == "300000"
    assert canonical_int("5m") == "5m"


def test_common_arroyo_options_reach_only_the_consumer() -> None:
    options = KafkaOptions.parse(["arroyo.strict.offset.reset=false", "acks=all"])
    assert "arroyo.strict.offset.reset" in options.for_client("consumer")
    assert options.for_client("producer") == {"acks": "all"}
    assert options.for_client("admin") == {"acks": "all"}


def test_offset_reset_ignores_case() -> None:
    assert canonical_offset_reset("EARLIEST") == "earliest"
    assert canonical_offset_reset(" Smallest ") == "earliest"


def test_partition_eof_true_conflicts() -> None:
    options = KafkaOptions.parse(["consumer:enable.partition.eof=true"])
    with pytest.raises(KafkaOptionConflict, match="partition-end"):
        options.reject_conflicts("consumer", ARROYO_OWNED_PROPERTIES)


def test_every_client_logs_through_the_rate_limit() -> None:
    logger = client_logger()
    assert producer_config("k:9092")["logger"] is logger
    assert consumer_config("k:9092", "g")["logger"] is logger
    assert reader_config("k:9092")["logger"] is logger
    assert admin_config("k:9092")["logger"] is logger
