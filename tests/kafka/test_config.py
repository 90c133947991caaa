"""Client configuration builders and the `-O/--kafka-option` parser."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from consumers.kafka.config import (
    KafkaOptionError,
    KafkaOptions,
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


def test_producer_override_wins() -> None:
    config = producer_config("k:9092", KafkaOptions.parse(["producer:acks=1"]))
    assert config["acks"] == "1"


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
