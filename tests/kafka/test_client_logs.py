"""librdkafka's log lines: one per kind and broker per interval."""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from consumers.embedded.broker import EmbeddedBroker, free_port
from consumers.kafka import client_logs
from tests.pipeline.conftest import SEER_BACKFILL, TANSU_OPTIONS


def _line(broker: str, detail: str, facility: str = "FAIL") -> str:
    return (
        f"{facility} [seer-backfill-consumer#consumer-1] [thrd:{broker}/bootstrap]: "
        f"{broker}/bootstrap: Connect to ipv4#{broker} failed: {detail}"
    )


@pytest.fixture
def captured(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[list[str]]:
    logger = logging.getLogger(client_logs.LOGGER_NAME)
    monkeypatch.setattr(logger, "filters", [])
    caplog.set_level(logging.INFO, logger=client_logs.LOGGER_NAME)
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    handler = Keep()
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


def test_repeats_dropped_and_counted(
    monkeypatch: pytest.MonkeyPatch, captured: list[str]
) -> None:
    clock = [100.0]
    logger = client_logs.client_logger()
    (throttle,) = [
        f for f in logger.filters if isinstance(f, client_logs._ThrottleFilter)
    ]
    monkeypatch.setattr(throttle.throttle, "_clock", lambda: clock[0])
    for attempt in range(5):
        logger.error(_line("10.0.0.1:9092", f"refused (after {attempt}ms)"))
    clock[0] += client_logs.INTERVAL_SECONDS
    logger.error(_line("10.0.0.1:9092", "refused (after 9ms)"))
    assert len(captured) == 2
    assert captured[0].endswith("refused (after 0ms)")
    assert captured[1].endswith("(after 9ms) (4 similar lines dropped)")


def test_other_broker_or_kind_passes(captured: list[str]) -> None:
    logger = client_logs.client_logger()
    logger.error(_line("10.0.0.1:9092", "refused"))
    logger.error(_line("10.0.0.2:9092", "refused"))
    logger.error(_line("10.0.0.1:9092", "refused", facility="ERROR"))
    logger.error(_line("10.0.0.1:9092", "refused"))
    assert len(captured) == 3


def test_filter_added_once() -> None:
    logger = client_logs.client_logger()
    assert client_logs.client_logger() is logger
    throttles = [
        f for f in logger.filters if isinstance(f, client_logs._ThrottleFilter)
    ]
    assert len(throttles) == 1


def test_broker_outage_logs_few_lines(tmp_path: Path, database_url: str) -> None:
    stderr_path = tmp_path / "run.log"
    with EmbeddedBroker() as broker:
        created = subprocess.run(
            [
                SEER_BACKFILL,
                "topics",
                "create",
                "--bootstrap-servers",
                broker.bootstrap_servers,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert created.returncode == 0, created.stderr
        with stderr_path.open("w") as stderr:
            consumer = subprocess.Popen(
                [
                    SEER_BACKFILL,
                    "run",
                    "--bootstrap-servers",
                    broker.bootstrap_servers,
                    "--database-url",
                    database_url,
                    "--seer-url",
                    "http://127.0.0.1:9",
                    # The lag sampler's clients log through the same logger.
                    "--metrics-port",
                    "0",
                    "--lag-sample-interval",
                    "1",
                    *TANSU_OPTIONS,
                ],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                text=True,
            )
            try:
                deadline = time.monotonic() + 60
                while "building strategy chain" not in stderr_path.read_text():
                    assert time.monotonic() < deadline, stderr_path.read_text()
                    assert consumer.poll() is None, stderr_path.read_text()
                    time.sleep(0.2)
                broker.stop()
                time.sleep(8)
            finally:
                consumer.send_signal(signal.SIGTERM)
                try:
                    consumer.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    consumer.kill()
                    consumer.wait()
    output = stderr_path.read_text()
    refused = [line for line in output.splitlines() if "Connection refused" in line]
    # Unthrottled, the consumer's client logged about ten such lines a second.
    assert 1 <= len(refused) <= 3, output[-5000:]
    assert not any(line.startswith("%3|") for line in output.splitlines())


def test_ops_commands_log_few_lines() -> None:
    closed = f"127.0.0.1:{free_port()}"
    commands = {
        "lag": ["lag"],
        "offsets reset": ["offsets", "reset", "--to-earliest"],
        "dlq list": ["dlq", "list"],
        "dlq replay": ["dlq", "replay"],
        "topics list": ["topics", "list"],
        "topics create": ["topics", "create"],
    }
    # Each command fails when its metadata request times out after 10 s, so
    # the commands run at the same time to keep the test short.
    running = {
        name: subprocess.Popen(
            [SEER_BACKFILL, *args, "--bootstrap-servers", closed],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in commands.items()
    }
    try:
        outputs = {
            name: process.communicate(timeout=60) for name, process in running.items()
        }
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    for name, process in running.items():
        stderr = outputs[name][1]
        client_lines = [line for line in stderr.splitlines() if "[thrd:" in line]
        assert process.returncode == 1, (name, stderr)
        assert "Broker transport failure" in stderr.splitlines()[-1], (name, stderr)
        # Unthrottled, librdkafka (confluent-kafka 2.16.1) wrote about 390
        # lines here per command.
        assert 1 <= len(client_lines) <= 3, (name, client_lines)
        # librdkafka's own format, "%3|<time>|FAIL|...", means no logger was set.
        assert not any(line.startswith("%") for line in client_lines), name
