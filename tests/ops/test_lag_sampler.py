"""LagSampler after failures: a broker restart, no broker, a bug, bad options.

The restart test starts a tansu broker of its own, because it stops and
restarts it. The other tests use the session's broker or a closed port.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from consumers.embedded.broker import EmbeddedBroker, free_port
from consumers.kafka import client_logs
from consumers.kafka.config import KafkaOptions
from consumers.ops.lag import LagReader, LagSnapshot
from consumers.ops.lag_sampler import REBUILD_AFTER_FAILURES, LagSampler
from consumers.ops.metrics import exposition_registry
from tests.ops.conftest import commit_group_offsets

# Each broker request of the samplers below waits at most this long, so a
# sample against a broken client or a closed port fails within seconds.
REQUEST_TIMEOUT = 0.5
SAMPLER_LOGGER = "consumers.ops.lag_sampler"


def fill_topic(
    bootstrap_servers: str, topic: str, group: str, messages: int, committed: int
) -> None:
    """Create a one-partition topic with `messages` messages, and commit
    `committed` for `group` on it."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=10)
    producer = Producer({"bootstrap.servers": bootstrap_servers, "linger.ms": 0})
    for i in range(messages):
        producer.produce(topic, value=f"m{i}".encode(), partition=0)
        # One record per batch keeps tansu's high watermark exact.
        assert producer.flush(10) == 0
    commit_group_offsets(bootstrap_servers, group, topic, {0: committed})


def wait_for_snapshot(
    sampler: LagSampler,
    taken_after: float,
    timeout: float,
    accept: Callable[[LagSnapshot], bool] = lambda snapshot: True,
) -> LagSnapshot | None:
    """Return the first snapshot taken after `taken_after` (epoch seconds)
    that `accept` approves, or the newest snapshot after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snapshot = sampler.last_snapshot
        if (
            snapshot is not None
            and snapshot.taken_at > taken_after
            and accept(snapshot)
        ):
            return snapshot
        time.sleep(0.1)
    return sampler.last_snapshot


def wait_for_failures(count: float, timeout: float) -> float:
    """Wait until the failure counter reaches `count`, and return its value."""
    deadline = time.monotonic() + timeout
    while failures_total() < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return failures_total()


def failures_total() -> float:
    value = exposition_registry().get_sample_value(
        "seer_backfill_consumer_lag_sample_failures_total"
    )
    return value or 0.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_sampler_recovers_after_broker_restart() -> None:
    topic, group = unique("restart"), unique("restart-group")
    broker = EmbeddedBroker().start()
    # The interval leaves the clients time to reconnect on their own after
    # the restart, before the next sample. That order left a reused admin
    # client timing out on every group request.
    sampler = LagSampler(
        broker.bootstrap_servers,
        group,
        topic,
        interval=1.5,
        fetch_timeout=REQUEST_TIMEOUT,
        request_timeout=REQUEST_TIMEOUT,
    )
    try:
        fill_topic(broker.bootstrap_servers, topic, group, messages=3, committed=1)
        sampler.start()
        before = wait_for_snapshot(sampler, 0.0, timeout=20)
        assert before is not None
        assert before.total_lag == 2

        failed = failures_total()
        broker.stop(grace=0.2)
        # The broker restarts right after a failed sample, so the restart
        # falls in the sampler's wait for its next sample.
        wait_for_failures(failed + 1, timeout=10)
        broker = EmbeddedBroker(port=broker.port).start()
        # tansu keeps everything in memory, so the topic and the commit are gone.
        fill_topic(broker.bootstrap_servers, topic, group, messages=5, committed=1)
        filled_at = time.time()
        after = wait_for_snapshot(
            sampler, filled_at, timeout=20, accept=lambda s: s.total_lag == 4
        )
        running = sampler.running
    finally:
        sampler.stop()
        broker.stop(grace=0.2)
    assert running
    assert after is not None
    assert after.taken_at > filled_at, "no lag snapshot within 20 s of the restart"
    assert after.total_lag == 4


def test_sampler_without_broker(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=client_logs.LOGGER_NAME)
    before = failures_total()
    sampler = LagSampler(
        f"127.0.0.1:{free_port()}",
        unique("closed-group"),
        unique("closed"),
        interval=0.2,
        request_timeout=REQUEST_TIMEOUT,
    ).start()
    try:
        # One failure more than a rebuild needs, so new clients failed too.
        failures = wait_for_failures(before + REBUILD_AFTER_FAILURES + 1, timeout=20)
    finally:
        started = time.monotonic()
        sampler.stop()
        stop_seconds = time.monotonic() - started
    assert failures >= before + REBUILD_AFTER_FAILURES + 1
    assert not sampler.running
    # stop() waits for the sample in progress, which fails within REQUEST_TIMEOUT.
    assert stop_seconds < REQUEST_TIMEOUT + 2
    assert sampler.last_snapshot is None
    # librdkafka writes "%3|<time>|FAIL|..." to stderr unless a logger is set.
    assert "|FAIL|" not in capfd.readouterr().err
    client_lines = [r for r in caplog.records if r.name == client_logs.LOGGER_NAME]
    # Without the rate limit, librdkafka logs each connection attempt, many
    # a second.
    assert 1 <= len(client_lines) <= 4, [r.getMessage() for r in client_lines]


def test_sampler_survives_unexpected_error(
    bootstrap_servers: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    topic, group = unique("bug"), unique("bug-group")
    fill_topic(bootstrap_servers, topic, group, messages=2, committed=1)
    real_sample = LagReader.sample
    calls = 0

    def sample_failing_once(reader: LagReader) -> LagSnapshot:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("simulated bug")
        return real_sample(reader)

    monkeypatch.setattr(LagReader, "sample", sample_failing_once)
    caplog.set_level(logging.WARNING, logger=SAMPLER_LOGGER)
    sampler = LagSampler(bootstrap_servers, group, topic, interval=0.2).start()
    try:
        snapshot = wait_for_snapshot(sampler, 0.0, timeout=20)
    finally:
        sampler.stop()
    assert snapshot is not None
    assert snapshot.total_lag == 1
    (failure,) = [
        r
        for r in caplog.records
        if r.name == SAMPLER_LOGGER and "failed" in r.getMessage()
    ]
    assert group in failure.getMessage()
    assert topic in failure.getMessage()
    assert "simulated bug" in failure.getMessage()
    assert failure.exc_info is not None


def test_sampler_survives_invalid_options(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=SAMPLER_LOGGER)
    group, topic = unique("invalid-group"), unique("invalid")
    before = failures_total()
    sampler = LagSampler(
        f"127.0.0.1:{free_port()}",
        group,
        topic,
        interval=0.2,
        options=KafkaOptions.parse(["admin:no.such.property=1"]),
    ).start()
    try:
        failures = wait_for_failures(before + 2, timeout=10)
        running = sampler.running
    finally:
        sampler.stop()
    assert running
    assert failures >= before + 2
    messages = [r.getMessage() for r in caplog.records if r.name == SAMPLER_LOGGER]
    assert any("no.such.property" in m and group in m for m in messages), messages
