"""`seer-backfill run`: -O options that contradict the consumer's own settings.

A conflict is a usage error raised before any client, database pool or
metrics server starts, so these tests need no broker.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from consumers.cli.run import reject_conflicting_kafka_options, run
from consumers.kafka.config import KafkaOptions

BOOTSTRAP_SERVERS = "127.0.0.1:1"


def invoke_run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        run,
        [
            "--bootstrap-servers",
            BOOTSTRAP_SERVERS,
            "--consumer-group",
            "backfill",
            *args,
        ],
    )
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("option", "dedicated"),
    [
        ("consumer:group.id=other", "--consumer-group=backfill"),
        ("group.id=other", "--consumer-group=backfill"),
        ("bootstrap.servers=10.0.0.1:9092", f"--bootstrap-servers={BOOTSTRAP_SERVERS}"),
        (
            "consumer:metadata.broker.list=10.0.0.1:9092",
            f"--bootstrap-servers={BOOTSTRAP_SERVERS}",
        ),
        (
            "producer:bootstrap.servers=10.0.0.1:9092",
            f"--bootstrap-servers={BOOTSTRAP_SERVERS}",
        ),
        (
            "admin:bootstrap.servers=10.0.0.1:9092",
            f"--bootstrap-servers={BOOTSTRAP_SERVERS}",
        ),
        ("consumer:auto.offset.reset=latest", "--auto-offset-reset=earliest"),
        ("consumer:max.poll.interval.ms=60000", "--max-poll-interval-ms=300000"),
    ],
)
def test_run_option_conflict_exit_2(option: str, dedicated: str) -> None:
    exit_code, stderr = invoke_run("-O", option)
    assert exit_code == 2
    assert f"-O {option} conflicts with {dedicated}." in stderr


@pytest.mark.parametrize(
    "option", ["consumer:enable.auto.commit=true", "enable.auto.offset.store=true"]
)
def test_run_commit_override_exit_2(option: str) -> None:
    exit_code, stderr = invoke_run("-O", option)
    assert exit_code == 2
    assert f"-O {option} conflicts with" in stderr
    assert "Arroyo commits each offset itself" in stderr


def test_run_conflict_from_env() -> None:
    result = CliRunner().invoke(
        run,
        ["--consumer-group", "backfill"],
        env={"SEER_BACKFILL_KAFKA_OPTION": "consumer:group.id=other"},
    )
    assert result.exit_code == 2
    assert "conflicts with --consumer-group=backfill" in result.stderr


def test_run_equal_values_accepted() -> None:
    options = KafkaOptions.parse(
        [
            "consumer:group.id=backfill",
            "bootstrap.servers=a:1, b:2",
            "producer:bootstrap.servers=a:1,b:2",
            "consumer:auto.offset.reset=smallest",
            "consumer:max.poll.interval.ms=300000",
            "consumer:enable.auto.commit=false",
            "consumer:enable.auto.offset.store=0",
            "consumer:session.timeout.ms=6000",
        ]
    )
    reject_conflicting_kafka_options(
        options,
        bootstrap_servers="a:1,b:2",
        consumer_group="backfill",
        auto_offset_reset="earliest",
        max_poll_interval_ms=300_000,
    )
