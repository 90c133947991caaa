"""`seer-backfill run`: invalid options, and the checks and failures at start.

A conflicting -O option is a usage error raised before any client, database
pool or metrics server starts, so those tests need no broker. The topic
checks run against the session's tansu broker.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from confluent_kafka.admin import AdminClient

from consumers.cli.run import reject_conflicting_kafka_options, run
from consumers.embedded.broker import free_port
from consumers.kafka.config import KafkaOptions
from tests.pipeline.conftest import (
    SEER_BACKFILL,
    TANSU_OPTIONS,
    create_test_topics,
    last_stderr_line,
    seer_backfill,
)

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


def test_unknown_librdkafka_property_is_a_usage_error() -> None:
    exit_code, stderr = invoke_run(
        "--database-url", "postgresql://127.0.0.1:1/none", "-O", "GROUP.ID=other"
    )
    assert exit_code == 2
    assert 'invalid -O option: No such configuration property: "GROUP.ID"' in stderr


@pytest.mark.parametrize("value", ["nan", "inf", "1e400", "-1"])
def test_bad_trim_interval_is_a_usage_error(value: str) -> None:
    exit_code, stderr = invoke_run("--malloc-trim-interval", value)
    assert exit_code == 2
    assert "--malloc-trim-interval" in stderr


@pytest.mark.parametrize("url", ["ftp://seer.example", "127.0.0.1:9091", "http://"])
def test_bad_seer_url_exits_2(url: str) -> None:
    exit_code, stderr = invoke_run("--seer-url", url)
    assert exit_code == 2
    assert "--seer-url" in stderr
    assert "not an http:// or https:// URL" in stderr


def test_missing_rules_file_exits_2(tmp_path: Path) -> None:
    exit_code, stderr = invoke_run("--rules", str(tmp_path / "missing.txt"))
    assert exit_code == 2
    assert "--rules" in stderr
    assert "does not exist" in stderr


def run_on_topics(
    bootstrap_servers: str,
    database_url: str,
    *,
    topic: str,
    dlq_topic: str,
    outcomes_topic: str,
) -> subprocess.CompletedProcess[str]:
    """Run the consumer on the given topics, with a Seer URL never reached."""
    return seer_backfill(
        "run",
        "--bootstrap-servers",
        bootstrap_servers,
        "--database-url",
        database_url,
        "--seer-url",
        "http://127.0.0.1:9",
        "--topic",
        topic,
        "--dlq-topic",
        dlq_topic,
        "--outcomes-topic",
        outcomes_topic,
        "--consumer-group",
        f"missing-topic-{uuid.uuid4().hex[:8]}",
        *TANSU_OPTIONS,
        timeout=120,
    )


def topic_names(bootstrap_servers: str) -> set[str]:
    metadata = AdminClient({"bootstrap.servers": bootstrap_servers}).list_topics(
        timeout=10
    )
    return set(metadata.topics)


def test_run_missing_input_topic_clean_error(
    bootstrap_servers: str, clean_database: str
) -> None:
    existing = create_test_topics(bootstrap_servers)
    topic = f"no-such-topic-{uuid.uuid4().hex[:8]}"
    result = run_on_topics(
        bootstrap_servers,
        clean_database,
        topic=topic,
        dlq_topic=existing.dlq,
        outcomes_topic=existing.outcomes,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    last_line = last_stderr_line(result)
    assert last_line.startswith(f"Error: input topic '{topic}' does not exist")
    assert "seer-backfill topics create" in last_line
    assert "--topic" in last_line


@pytest.mark.parametrize(
    ("option", "role"),
    [("--dlq-topic", "dead-letter"), ("--outcomes-topic", "outcomes")],
)
def test_run_missing_output_topic_exits_1(
    bootstrap_servers: str, clean_database: str, option: str, role: str
) -> None:
    existing = create_test_topics(bootstrap_servers)
    missing = f"no-such-{role}-{uuid.uuid4().hex[:8]}"
    topics = {"dlq_topic": existing.dlq, "outcomes_topic": existing.outcomes}
    topics[option.removeprefix("--").replace("-", "_")] = missing
    result = run_on_topics(
        bootstrap_servers, clean_database, topic=existing.input, **topics
    )
    assert result.returncode == 1, result.stderr[-3000:]
    assert last_stderr_line(result) == (
        f"Error: {role} topic '{missing}' does not exist on {bootstrap_servers}; "
        f"create it with `seer-backfill topics create` (or check {option})"
    )
    assert "consuming" not in result.stderr
    assert "Traceback" not in result.stderr
    # The check lists topics without naming them, so it creates none.
    assert missing not in topic_names(bootstrap_servers)


def test_run_missing_topics_named_together(
    bootstrap_servers: str, clean_database: str
) -> None:
    suffix = uuid.uuid4().hex[:8]
    names = {
        "topic": f"no-input-{suffix}",
        "dlq_topic": f"no-dlq-{suffix}",
        "outcomes_topic": f"no-outcomes-{suffix}",
    }
    result = run_on_topics(bootstrap_servers, clean_database, **names)
    assert result.returncode == 1, result.stderr[-3000:]
    assert last_stderr_line(result) == (
        f"Error: input topic 'no-input-{suffix}' (--topic), dead-letter topic "
        f"'no-dlq-{suffix}' (--dlq-topic) and outcomes topic "
        f"'no-outcomes-{suffix}' (--outcomes-topic) do not exist on "
        f"{bootstrap_servers}; create them with `seer-backfill topics create` "
        "(or check those options)"
    )
    assert not set(names.values()) & topic_names(bootstrap_servers)


def test_run_metrics_port_taken_clean_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = seer_backfill(
            "run",
            "--metrics-port",
            str(port),
            "--database-url",
            "postgresql://127.0.0.1:1/unused",
        )
    assert result.returncode == 1, result.stderr[-3000:]
    last_line = last_stderr_line(result)
    assert last_line.startswith(
        f"Error: metrics endpoint cannot listen on 127.0.0.1:{port}"
    )
    assert "--metrics-port" in last_line
    assert "Traceback" not in result.stderr


def test_run_unreachable_broker_exits_1() -> None:
    address = f"127.0.0.1:{free_port()}"
    result = seer_backfill(
        "run",
        "--bootstrap-servers",
        address,
        "--broker-timeout",
        "2",
        "--database-url",
        "postgresql://127.0.0.1:1/unused",
        timeout=60,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    last_line = last_stderr_line(result)
    assert last_line.startswith(f"Error: no Kafka broker at {address} responded")
    assert "Connection refused" in last_line
    assert "--broker-timeout" in last_line
    # One progress line and the error, not a line per connection attempt of
    # librdkafka.
    attempts = [line for line in result.stderr.splitlines() if "Connect to" in line]
    progress = [line for line in attempts if "waiting for a Kafka broker" in line]
    assert len(progress) == 1
    assert attempts == [*progress, last_line]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_broker_wait_exits_0(signum: int) -> None:
    address = f"127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [
            SEER_BACKFILL,
            "run",
            "--bootstrap-servers",
            address,
            "--broker-timeout",
            "0",
            "--database-url",
            "postgresql://127.0.0.1:1/unused",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        # The first failed attempt is logged at once, after the handlers
        # are installed.
        for line in process.stderr:
            if f"waiting for a Kafka broker at {address}" in line:
                break
        process.send_signal(signum)
        _, rest = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, rest[-3000:]
    assert "shut down while waiting for a Kafka broker" in rest
    assert "Traceback" not in rest
