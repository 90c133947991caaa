"""Prometheus metrics of the backfill: the catalogue and the exporters.

Catalogue. Each entry: name, type, labels; then its meaning.

seer_backfill_records_sent_total (counter)
    Grouping records sent to Seer in grouping-record requests that returned
    `success: true`.
seer_backfill_groups_filtered_total (counter; reason)
    Groups left out of a batch, by skip reason (the reasons of the filtered
    outcomes).
seer_backfill_dlq_messages_total (counter; reason)
    Project-batch messages sent to the dead-letter topic, by `reason` header.
seer_backfill_seer_request_duration_seconds (histogram; endpoint, status)
    Duration of Seer HTTP requests. `status` is the HTTP status code, or
    `error` when no response arrived.
seer_backfill_seer_request_errors_total (counter; endpoint, kind)
    Failed Seer requests by kind of failure (`timeout`, `connect`,
    `http_5xx`, `http_4xx`, `invalid_response`, ...).
seer_backfill_stage_duration_seconds (histogram; stage)
    Time one message spends in a pipeline stage: `decode`, `lookup`,
    `hashing`, `seer`, `onward`.
seer_backfill_batches_processed_total (counter; result)
    Project-batch messages finished, by result (`done`, `skipped`,
    `duplicate`, `dlq`, ...).
seer_backfill_rebalances_total (counter)
    Partition assignments received by this consumer, the first included.
seer_backfill_consumer_lag_messages (gauge; topic, partition)
    Log end offset minus the group's committed offset, set by `LagSampler`.
seer_backfill_consumer_lag_seconds (gauge; topic, partition)
    Age of the oldest unconsumed message (0 when the lag is 0), set by
    `LagSampler`.
seer_backfill_consumer_lag_sample_failures_total (counter)
    Lag samples of `LagSampler` that failed. While it grows, the two lag
    gauges keep their last values.
seer_backfill_build_info (gauge; version)
    Always 1; `version` is the installed version of seer-backfill.
arroyo_* (counter, gauge or histogram; Arroyo's tags)
    Arroyo's own metrics, forwarded by `ArroyoMetrics` (see its docstring).

Label values must come from small fixed sets; never use ids as label values.

Every process that imports this module, Arroyo's spawned workers included,
writes to the same multiprocess directory (see `metrics_setup`), and
`start_metrics_server` exports them aggregated: counters and histograms
summed, gauges with the most recently set value. In a worker, call
`init_worker_metrics` from the pool's initializer so that Arroyo's metrics
there are recorded too.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from typing import Literal

from consumers.ops.metrics_setup import prepare_multiprocess_dir
from consumers.ops.tracing import stage_transaction

MULTIPROCESS_DIR = prepare_multiprocess_dir()

# Every metric below must be created after the directory is chosen.
from arroyo.utils.metrics import MetricName, Metrics, configure_metrics  # noqa: E402
from prometheus_client import (  # noqa: E402
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector  # noqa: E402

logger = logging.getLogger(__name__)

Stage = Literal["decode", "lookup", "hashing", "seer", "onward"]
STAGES: tuple[Stage, ...] = ("decode", "lookup", "hashing", "seer", "onward")

_REQUEST_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
)
_STAGE_BUCKETS = (0.001, 0.005, 0.01, 0.025, *_REQUEST_BUCKETS[2:])

RECORDS_SENT = Counter(
    "seer_backfill_records_sent",
    "Grouping records sent to Seer in requests that returned success: true.",
)
GROUPS_FILTERED = Counter(
    "seer_backfill_groups_filtered",
    "Groups left out of a batch, by skip reason.",
    ["reason"],
)
DLQ_MESSAGES = Counter(
    "seer_backfill_dlq_messages",
    "Project-batch messages sent to the dead-letter topic, by reason.",
    ["reason"],
)
SEER_REQUEST_DURATION = Histogram(
    "seer_backfill_seer_request_duration_seconds",
    "Duration of Seer HTTP requests; status is the HTTP status or 'error'.",
    ["endpoint", "status"],
    buckets=_REQUEST_BUCKETS,
)
SEER_REQUEST_ERRORS = Counter(
    "seer_backfill_seer_request_errors",
    "Failed Seer requests, by endpoint and kind of failure.",
    ["endpoint", "kind"],
)
STAGE_DURATION = Histogram(
    "seer_backfill_stage_duration_seconds",
    "Time one message spends in a pipeline stage.",
    ["stage"],
    buckets=_STAGE_BUCKETS,
)
BATCHES_PROCESSED = Counter(
    "seer_backfill_batches_processed",
    "Project-batch messages finished, by result.",
    ["result"],
)
REBALANCES = Counter(
    "seer_backfill_rebalances",
    "Partition assignments received by this consumer, the first one included.",
)
CONSUMER_LAG_MESSAGES = Gauge(
    "seer_backfill_consumer_lag_messages",
    "Log end offset minus the group's committed offset.",
    ["topic", "partition"],
    multiprocess_mode="mostrecent",
)
CONSUMER_LAG_SECONDS = Gauge(
    "seer_backfill_consumer_lag_seconds",
    "Age of the oldest unconsumed message; 0 when the lag is 0.",
    ["topic", "partition"],
    multiprocess_mode="mostrecent",
)
LAG_SAMPLE_FAILURES = Counter(
    "seer_backfill_consumer_lag_sample_failures",
    "Lag samples that failed; the lag gauges keep their last values meanwhile.",
)
BUILD_INFO = Gauge(
    "seer_backfill_build_info",
    "Always 1; the version label is the installed version of seer-backfill.",
    ["version"],
    multiprocess_mode="mostrecent",
)


def _installed_version() -> str:
    try:
        return metadata.version("seer-backfill")
    except metadata.PackageNotFoundError:
        return "unknown"


BUILD_INFO.labels(version=_installed_version()).set(1)


@contextmanager
def time_stage(stage: Stage) -> Iterator[None]:
    """Observe the duration of the block in `seer_backfill_stage_duration_seconds`.

    The duration is recorded when the block raises, too. With the sentry-sdk
    on, the block is also traced as a transaction named after the stage.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown pipeline stage {stage!r}; expected one of {STAGES}")
    started = time.perf_counter()
    try:
        with stage_transaction(stage):
            yield
    finally:
        STAGE_DURATION.labels(stage=stage).observe(time.perf_counter() - started)


def observe_seer_request(endpoint: str, status: int | None, seconds: float) -> None:
    """Record one Seer request; `status` None means no HTTP response arrived."""
    label = "error" if status is None else str(status)
    SEER_REQUEST_DURATION.labels(endpoint=endpoint, status=label).observe(seconds)


def set_partition_lag(
    topic: str, partition: int, messages: int | None, seconds: float | None
) -> None:
    """Update the lag gauges of one partition; None leaves a gauge unchanged."""
    labels = {"topic": topic, "partition": str(partition)}
    if messages is not None:
        CONSUMER_LAG_MESSAGES.labels(**labels).set(messages)
    if seconds is not None:
        CONSUMER_LAG_SECONDS.labels(**labels).set(seconds)


def exposition_registry() -> CollectorRegistry:
    """Build a registry that collects every process's samples from the directory."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(MULTIPROCESS_DIR))  # type: ignore[no-untyped-call]
    return registry


@dataclass
class MetricsServer:
    """A running `/metrics` HTTP endpoint; `shutdown` stops it."""

    host: str
    port: int
    _server: object
    _thread: threading.Thread

    def shutdown(self) -> None:
        self._server.shutdown()  # type: ignore[attr-defined]
        self._server.server_close()  # type: ignore[attr-defined]
        self._thread.join(timeout=5)


class MetricsServerError(Exception):
    """The metrics endpoint could not listen on its address."""


def start_metrics_server(port: int, host: str = "127.0.0.1") -> MetricsServer:
    """Serve the metrics of every process over HTTP on a daemon thread.

    Port 0 picks a free port; the chosen one is in the result's `port`.
    Raises `MetricsServerError` when the address cannot be bound.
    """
    try:
        server, thread = start_http_server(
            port, addr=host, registry=exposition_registry()
        )
    except OSError as e:
        raise MetricsServerError(
            f"cannot listen on {host}:{port}: {e.strerror or e}"
        ) from e
    bound_port = int(server.server_port)
    logger.info("metrics endpoint listening on http://%s:%d/metrics", host, bound_port)
    return MetricsServer(host=host, port=bound_port, _server=server, _thread=thread)


# Arroyo timings that accumulate seconds per flush interval of its
# StreamProcessor. A sum of seconds is a counter in Prometheus terms.
_ACCUMULATED_SECONDS = re.compile(r"^arroyo\.consumer\.[a-z_]+\.time$")

# Arroyo's other timings mix units: seconds (`arroyo.consumer.latency`),
# messages (`...batch.size.msg`) and bytes (`...batch.size.bytes`). The
# buckets span all three.
_TIMING_BUCKETS = tuple(
    base * 10.0**exponent for exponent in range(-3, 9) for base in (1.0, 5.0)
)


def prometheus_name(name: str) -> str:
    """`arroyo.consumer.run.count` -> `arroyo_consumer_run_count`.

    Names outside Arroyo's namespace (`sigchld.detected`) get the `arroyo_`
    prefix, so every forwarded metric is found under one prefix.
    """
    converted = re.sub(r"[^a-zA-Z0-9_]+", "_", name).strip("_").lower()
    if not converted.startswith("arroyo_"):
        converted = "arroyo_" + converted
    return converted


def _label_name(tag: str) -> str:
    label = re.sub(r"[^a-zA-Z0-9_]+", "_", tag).strip("_").lower() or "tag"
    if label[0].isdigit() or label.startswith("__"):
        label = "tag_" + label.lstrip("_")
    return label


_ArroyoMetric = Counter | Gauge | Histogram

# Created on first use and shared by every ArroyoMetrics instance, because
# prometheus_client rejects a second metric with the same name.
_arroyo_lock = threading.Lock()
_arroyo_registry: dict[str, tuple[str, _ArroyoMetric, tuple[str, ...]]] = {}


def _create_arroyo_metric(
    kind: str, name: str, label_names: tuple[str, ...]
) -> _ArroyoMetric:
    description = f"Arroyo metric {name} ({kind})."
    if kind == "counter":
        return Counter(name, description, label_names)
    if kind == "gauge":
        return Gauge(name, description, label_names, multiprocess_mode="mostrecent")
    return Histogram(name, description, label_names, buckets=_TIMING_BUCKETS)


def _arroyo_metric(
    kind: str, name: str, tags: Mapping[str, str] | None
) -> _ArroyoMetric | None:
    labels = {_label_name(k): str(v) for k, v in (tags or {}).items()}
    with _arroyo_lock:
        entry = _arroyo_registry.get(name)
        if entry is None:
            label_names = tuple(sorted(labels))
            entry = (kind, _create_arroyo_metric(kind, name, label_names), label_names)
            _arroyo_registry[name] = entry
    created_kind, metric, label_names = entry
    if created_kind != kind:
        logger.debug(
            "dropping %s sample of Arroyo metric %s, a %s", kind, name, created_kind
        )
        return None
    if not label_names:
        return metric
    return metric.labels(**{n: labels.get(n, "") for n in label_names})


class ArroyoMetrics(Metrics):
    """Arroyo's metrics backend that records into prometheus_client.

    Mapping (the Arroyo name with dots as underscores, see `prometheus_name`):
    - `increment` -> counter `<name>_total`;
    - `gauge` -> gauge `<name>`, most recent value over all processes;
    - `timing` of `arroyo.consumer.<x>.time` (seconds accumulated per
      interval) -> counter `<name>_seconds_total`;
    - any other `timing` -> histogram `<name>` with buckets from 0.001 to
      5e8, because Arroyo's timings are seconds, messages or bytes.

    Tags become labels. A metric's label names are fixed by its first use:
    later calls fill missing tags with "" and drop extra tags.

    Install it with `install_arroyo_metrics()` before the StreamProcessor is
    created, because Arroyo reads the backend when its objects are built.
    """

    def increment(
        self,
        name: MetricName,
        value: int | float = 1,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        metric = _arroyo_metric("counter", prometheus_name(name), tags)
        if isinstance(metric, Counter):
            metric.inc(value)

    def gauge(
        self,
        name: MetricName,
        value: int | float,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        metric = _arroyo_metric("gauge", prometheus_name(name), tags)
        if isinstance(metric, Gauge):
            metric.set(value)

    def timing(
        self,
        name: MetricName,
        value: int | float,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        if _ACCUMULATED_SECONDS.match(name):
            counter = _arroyo_metric(
                "counter", prometheus_name(name) + "_seconds", tags
            )
            if isinstance(counter, Counter):
                counter.inc(max(value, 0.0))
            return
        histogram = _arroyo_metric("histogram", prometheus_name(name), tags)
        if isinstance(histogram, Histogram):
            histogram.observe(value)


_arroyo_metrics: ArroyoMetrics | None = None


def install_arroyo_metrics() -> ArroyoMetrics:
    """Make `ArroyoMetrics` Arroyo's backend in this process; safe to call again."""
    global _arroyo_metrics
    if _arroyo_metrics is None:
        _arroyo_metrics = ArroyoMetrics()
    configure_metrics(_arroyo_metrics, force=True)
    return _arroyo_metrics


def init_worker_metrics() -> None:
    """Initializer for Arroyo's `MultiprocessingPool` workers.

    Importing this module in the worker already points prometheus_client at
    the parent's directory, because the environment is inherited. This also
    installs `ArroyoMetrics` there. Compose it with other initializers in a
    module-level function, because the pool pickles the initializer.
    """
    install_arroyo_metrics()
