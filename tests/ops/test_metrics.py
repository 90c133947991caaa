"""Metrics: the catalogue, the Arroyo bridge, worker processes, the HTTP endpoint."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from arroyo.processing.strategies.run_task_with_multiprocessing import (
    MultiprocessingPool,
)
from arroyo.utils.metrics import get_metrics
from prometheus_client.parser import text_string_to_metric_families

from consumers.ops import metrics
from consumers.ops.lag_sampler import LagSampler
from consumers.ops.metrics import (
    ArroyoMetrics,
    MetricsServer,
    init_worker_metrics,
    install_arroyo_metrics,
    observe_seer_request,
    prometheus_name,
    start_metrics_server,
    time_stage,
)


@pytest.fixture(scope="module")
def server() -> Iterator[MetricsServer]:
    running = start_metrics_server(0)
    yield running
    running.shutdown()


def scrape(
    server: MetricsServer,
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the endpoint: (name, sorted labels) -> value."""
    response = httpx.get(f"http://{server.host}:{server.port}/metrics", timeout=5)
    response.raise_for_status()
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(server: MetricsServer, name: str, **labels: str) -> float | None:
    return scrape(server).get((name, tuple(sorted(labels.items()))))


def test_multiprocess_mode_active() -> None:
    # This module imports prometheus_client before consumers.ops.metrics,
    # so this also checks the switch of an already loaded client.
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(metrics.MULTIPROCESS_DIR)


def test_endpoint_build_info(server: MetricsServer) -> None:
    samples = scrape(server)
    build = [k for k in samples if k[0] == "seer_backfill_build_info"]
    assert len(build) == 1
    assert samples[build[0]] == 1.0


def test_endpoint_counter(server: MetricsServer) -> None:
    before = value(server, "seer_backfill_records_sent_total") or 0.0
    metrics.RECORDS_SENT.inc(3)
    assert value(server, "seer_backfill_records_sent_total") == before + 3


def test_endpoint_labelled_counter(server: MetricsServer) -> None:
    metrics.DLQ_MESSAGES.labels(reason="test_reason").inc()
    assert (
        value(server, "seer_backfill_dlq_messages_total", reason="test_reason") == 1.0
    )


def test_time_stage_observes(server: MetricsServer) -> None:
    with time_stage("hashing"):
        time.sleep(0.01)
    count = value(server, "seer_backfill_stage_duration_seconds_count", stage="hashing")
    total = value(server, "seer_backfill_stage_duration_seconds_sum", stage="hashing")
    assert count is not None and count >= 1
    assert total is not None and total >= 0.01


def test_time_stage_records_on_error(server: MetricsServer) -> None:
    name = "seer_backfill_stage_duration_seconds_count"
    before = value(server, name, stage="onward") or 0.0
    with pytest.raises(RuntimeError), time_stage("onward"):
        raise RuntimeError("boom")
    assert value(server, name, stage="onward") == before + 1


def test_time_stage_unknown() -> None:
    with pytest.raises(ValueError, match="unknown pipeline stage"), time_stage("nope"):  # type: ignore[arg-type]
        pass


def test_seer_request_without_response(server: MetricsServer) -> None:
    observe_seer_request("grouping-record", None, 0.3)
    observe_seer_request("grouping-record", 200, 0.1)
    name = "seer_backfill_seer_request_duration_seconds_count"
    assert value(server, name, endpoint="grouping-record", status="error") == 1.0
    assert value(server, name, endpoint="grouping-record", status="200") == 1.0


def test_prometheus_name() -> None:
    assert prometheus_name("arroyo.consumer.run.count") == "arroyo_consumer_run_count"
    assert prometheus_name("sigchld.detected") == "arroyo_sigchld_detected"


def test_arroyo_counter_and_tags(server: MetricsServer) -> None:
    bridge = ArroyoMetrics()
    bridge.increment("arroyo.consumer.commit_status", 2, tags={"status": "ok"})
    bridge.increment("arroyo.consumer.commit_status", 1, tags={"other": "x"})
    name = "arroyo_consumer_commit_status_total"
    assert value(server, name, status="ok") == 2.0
    # Tags outside the first call's set are dropped; missing ones become "".
    assert value(server, name, status="") == 1.0


def test_arroyo_gauge(server: MetricsServer) -> None:
    ArroyoMetrics().gauge("arroyo.consumer.librdkafka.total_queue_size", 7)
    assert value(server, "arroyo_consumer_librdkafka_total_queue_size") == 7.0


def test_arroyo_accumulated_time_is_counter(server: MetricsServer) -> None:
    bridge = ArroyoMetrics()
    bridge.timing("arroyo.consumer.poll.time", 0.25)
    bridge.timing("arroyo.consumer.poll.time", 0.5)
    assert value(server, "arroyo_consumer_poll_time_seconds_total") == 0.75


def test_arroyo_timing_histogram(server: MetricsServer) -> None:
    ArroyoMetrics().timing("arroyo.consumer.latency", 2.0)
    assert value(server, "arroyo_consumer_latency_count") == 1.0
    assert value(server, "arroyo_consumer_latency_bucket", le="5.0") == 1.0
    assert value(server, "arroyo_consumer_latency_bucket", le="1.0") == 0.0


def test_install_arroyo_metrics() -> None:
    installed = install_arroyo_metrics()
    assert get_metrics() is installed


def test_subprocess_metrics_exported(server: MetricsServer) -> None:
    # A separate interpreter inherits PROMETHEUS_MULTIPROC_DIR and writes
    # its samples where this process's endpoint aggregates them.
    code = (
        "from consumers.ops import metrics; "
        "metrics.BATCHES_PROCESSED.labels(result='from_child').inc(5)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert (
        value(server, "seer_backfill_batches_processed_total", result="from_child")
        == 5.0
    )


def test_arroyo_pool_worker_metrics(server: MetricsServer) -> None:
    # Arroyo's own pool (spawned workers) with our initializer: the worker
    # gets ArroyoMetrics installed and its samples reach the endpoint.
    pool = MultiprocessingPool(num_processes=1, initializer=init_worker_metrics)
    try:
        backend = pool.apply_async(get_metrics).get(timeout=60)
        pool.apply_async(
            functools.partial(observe_seer_request, "delete-by-hash", 503, 1.5)
        ).get(timeout=60)
        pool.apply_async(
            ArroyoMetrics().increment, ("arroyo.strategies.filter.dropped_messages", 4)
        ).get(timeout=60)
    finally:
        pool.close()
    assert type(backend).__name__ == "ArroyoMetrics"
    name = "seer_backfill_seer_request_duration_seconds_count"
    assert value(server, name, endpoint="delete-by-hash", status="503") == 1.0
    assert value(server, "arroyo_strategies_filter_dropped_messages_total") == 4.0


def test_lag_sampler_sets_gauges(
    server: MetricsServer,
    bootstrap_servers: str,
    make_topic: Callable[..., str],
    produce: Callable[..., int],
    commit_offsets: Callable[[str, str, dict[int, int]], None],
) -> None:
    topic = make_topic("sampler")
    for i in range(4):
        produce(topic, f"m{i}".encode())
    group = f"sampler-{uuid.uuid4().hex[:8]}"
    commit_offsets(group, topic, {0: 1})
    sampler = LagSampler(bootstrap_servers, group, topic, interval=0.2).start()
    try:
        deadline = time.monotonic() + 20
        while sampler.last_snapshot is None and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        sampler.stop()
    assert sampler.last_snapshot is not None
    labels = {"topic": topic, "partition": "0"}
    assert value(server, "seer_backfill_consumer_lag_messages", **labels) == 3.0
    seconds = value(server, "seer_backfill_consumer_lag_seconds", **labels)
    assert seconds is not None and 0.0 <= seconds < 60.0


def test_lag_sampler_rejects_interval() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        LagSampler("127.0.0.1:1", "g", "t", interval=0)
