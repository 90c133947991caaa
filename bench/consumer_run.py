"""One measured run of the real consumer on the real broker.

Each run gets its own topics (`<topic>-<tag>`) and consumer group, so no
message of an earlier run is read again. The run schedules every project,
starts `seer-backfill run ... --exit-after-idle-seconds` in a subprocess,
samples its RSS and the CPU time of every service while it works, scrapes
its Prometheus endpoint, and reads the batch ledger when it has exited.

The measured window runs from the first ledger claim to the last batch
marked done, by the database clock. The consumer's start-up, group join and
idle exit are outside it. `wall_seconds` is the whole process lifetime.
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
from confluent_kafka.admin import AdminClient
from prometheus_client.parser import text_string_to_metric_families

from bench import pyspy
from bench.sampling import ProcessSampler, Sample, cpu_between, sample_at
from bench.services import (
    CONSUMER_APPLICATION_NAME,
    TANSU_OPTIONS,
    Services,
    cli_path,
    client_environment,
    die_with_parent,
    grouping_requests,
    tansu_options,
)
from consumers.cli import options as opt
from consumers.embedded.broker import free_port
from consumers.kafka.config import admin_config
from consumers.kafka.topics import (
    create_topics,
    default_topics_dir,
    load_topic_definitions,
)
from consumers.ops.schedule import (
    DEFAULT_CHAIN_GROUPS,
    RunOptions,
    plan_schedule,
    publish,
)

logger = logging.getLogger(__name__)

STAGE_METRIC = "seer_backfill_stage_duration_seconds"


@dataclass(frozen=True)
class RunTopics:
    batches: str
    dlq: str
    outcomes: str


@dataclass
class ConsumerFigures:
    """Figures of one consumer run. Durations in seconds, memory in bytes."""

    run_id: str
    exit_code: int
    groups: int = 0
    batches: int = 0
    filtered: dict[str, int] = field(default_factory=dict)
    window_seconds: float = 0.0
    wall_seconds: float = 0.0
    batch_seconds: list[float] = field(default_factory=list)
    seer_requests: int = 0
    # Most grouping requests the Seer service saw arrive within one second.
    seer_peak_per_second: int = 0
    # Seconds from the first claim to the last batch done of the slowest
    # project. A project's batches run one at a time, so this bounds the window.
    longest_project_seconds: float = 0.0
    # Seconds until 90% of the groups were marked.
    seconds_to_90_percent: float = 0.0
    peak_rss_bytes: int = 0
    peak_hwm_bytes: int = 0
    rss_bytes_at: dict[str, int] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    stage_messages: dict[str, int] = field(default_factory=dict)
    profile: pyspy.Profile | None = None
    log_path: str = ""

    @property
    def groups_per_second(self) -> float:
        if self.window_seconds <= 0:
            return 0.0
        return self.groups / self.window_seconds

    @property
    def seer_requests_per_second(self) -> float:
        if self.window_seconds <= 0:
            return 0.0
        return self.seer_requests / self.window_seconds


def create_run_topics(bootstrap_servers: str, tag: str, partitions: int) -> RunTopics:
    definitions = [
        dataclasses.replace(d, name=f"{d.name}-{tag}")
        for d in load_topic_definitions(default_topics_dir())
    ]
    admin = AdminClient(admin_config(bootstrap_servers, tansu_options()))
    create_topics(admin, definitions, partitions, 1)
    return RunTopics(
        batches=f"{opt.INPUT_TOPIC}-{tag}",
        dlq=f"{opt.DLQ_TOPIC}-{tag}",
        outcomes=f"{opt.OUTCOMES_TOPIC}-{tag}",
    )


class MetricsScraper:
    """Keeps the last stage-duration sums and counts scraped from /metrics.

    Scrapes are seconds apart because building the page costs the consumer
    CPU time: it reads the metric files of every process. The last scrape
    can miss the final seconds of a run, but the per-batch means stay
    representative.
    """

    def __init__(self, port: int, interval_seconds: float = 5.0) -> None:
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.interval_seconds = interval_seconds
        self.seconds: dict[str, float] = {}
        self.messages: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="bench-metrics", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _scrape(self) -> None:
        try:
            text = httpx.get(self.url, timeout=2).text
        except httpx.HTTPError:
            return
        for family in text_string_to_metric_families(text):
            if family.name != STAGE_METRIC:
                continue
            for sample in family.samples:
                stage = sample.labels.get("stage", "")
                if sample.name.endswith("_sum"):
                    self.seconds[stage] = sample.value
                elif sample.name.endswith("_count"):
                    self.messages[stage] = int(sample.value)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            self._scrape()


def _read_ledger(
    database_url: str, run_id: str, figures: ConsumerFigures
) -> tuple[float, float] | None:
    """Fill the ledger figures; return the window's epoch start and end."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT project_id, extract(epoch FROM created_at)::float8, "
            "extract(epoch FROM updated_at)::float8, outputs "
            "FROM backfill_ledger WHERE run_id = %s AND state = 'done'",
            (run_id,),
        ).fetchall()
    if not rows:
        return None

    filtered: Counter[str] = Counter()
    projects: dict[int, tuple[float, float]] = {}
    done: list[tuple[float, int]] = []
    for project_id, created, updated, outputs in rows:
        first, last = projects.get(project_id, (created, updated))
        projects[project_id] = (min(first, created), max(last, updated))
        outputs_map: dict[str, Any] = outputs
        if outputs_map.get("action") != "backfill":
            continue
        accepted = int(outputs_map.get("accepted", 0))
        figures.groups += accepted
        done.append((updated, accepted))
        filtered.update(outputs_map.get("filtered", {}))
        figures.batches += 1
        figures.batch_seconds.append(updated - created)

    start = min(first for first, _ in projects.values())
    end = max(last for _, last in projects.values())
    figures.filtered = dict(filtered)
    figures.window_seconds = end - start
    figures.longest_project_seconds = max(
        last - first for first, last in projects.values()
    )

    marked = 0
    for when, accepted in sorted(done):
        marked += accepted
        if marked >= 0.9 * figures.groups:
            figures.seconds_to_90_percent = when - start
            break
    return start, end


def _sampled_figures(
    samples: Sequence[Sample], start: float, end: float, figures: ConsumerFigures
) -> None:
    figures.peak_rss_bytes = max(s.rss_bytes for s in samples)
    figures.rss_bytes_at = {
        f"{int(share * 100)}%": sample_at(
            samples, start + share * (end - start)
        ).rss_bytes
        for share in (0.1, 0.5, 1.0)
    }
    figures.cpu_seconds = cpu_between(samples, start, end)


def consumer_command(
    services: Services,
    topics: RunTopics,
    group: str,
    metrics_port: int,
    flags: Sequence[str],
) -> list[str]:
    command = [
        cli_path(),
        "run",
        "--bootstrap-servers",
        services.bootstrap_servers,
        "--database-url",
        services.database_url,
        "--seer-url",
        services.seer_url,
        "--consumer-group",
        group,
        "--topic",
        topics.batches,
        "--dlq-topic",
        topics.dlq,
        "--outcomes-topic",
        topics.outcomes,
        "--exit-after-idle-seconds",
        "3",
        "--metrics-port",
        str(metrics_port),
    ]
    for option in TANSU_OPTIONS:
        command += ["-O", option]
    return command + list(flags)


@dataclass(frozen=True)
class ConsumerSetup:
    """How to run the consumer: topic partitions, flags, extra environment."""

    partitions: int = 4
    # Groups per chain of a split project, as `seer-backfill schedule
    # --chain-groups` takes it.
    chain_groups: int = DEFAULT_CHAIN_GROUPS
    flags: tuple[str, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    timeout_seconds: float = 600.0


def run_consumer_once(
    services: Services,
    workdir: Path,
    index: int,
    setup: ConsumerSetup,
    record_profile: bool,
) -> ConsumerFigures:
    """Schedule every project and run the consumer until it is idle."""
    run_id = str(uuid.uuid4())
    tag = f"run{index}-{run_id[:8]}"
    topics = create_run_topics(services.bootstrap_servers, tag, setup.partitions)
    plan = plan_schedule(
        services.database_url,
        RunOptions(run_id=run_id),
        all_projects=True,
        chain_groups=setup.chain_groups,
    )
    delivery = publish(
        plan.batches, services.bootstrap_servers, topics.batches, tansu_options()
    )
    if not delivery.ok:
        raise RuntimeError(f"scheduling run {index} failed: {delivery.failed}")
    requests_before = grouping_requests(services.seer_stats())

    metrics_port = free_port()
    log_path = workdir / f"consumer-{tag}.log"
    command = consumer_command(
        services, topics, f"bench-{tag}", metrics_port, setup.flags
    )
    logger.info("consumer run %d: %s", index, " ".join(command[1:]))
    started = time.monotonic()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={
                **client_environment(CONSUMER_APPLICATION_NAME),
                **dict(setup.environment),
            },
            preexec_fn=die_with_parent,
        )
    consumer = psutil.Process(process.pid)
    sampler = ProcessSampler(
        consumer,
        {
            "seer": services.seer_process,
            "postgres": services.postgres_process,
            "broker": services.broker_process,
        },
        database_url=services.database_url,
    )
    scraper = MetricsScraper(metrics_port)
    sampler.start()
    scraper.start()
    recorder = (
        pyspy.start(process.pid, workdir / f"py-spy-{tag}.txt")
        if record_profile
        else None
    )
    try:
        exit_code = process.wait(timeout=setup.timeout_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        exit_code = -1
        logger.error(
            "consumer run %d timed out after %.0f s", index, setup.timeout_seconds
        )
    finally:
        sampler.stop()
        scraper.stop()
    figures = ConsumerFigures(
        run_id=run_id, exit_code=exit_code, log_path=str(log_path)
    )
    figures.wall_seconds = time.monotonic() - started
    figures.peak_hwm_bytes = sampler.peak_hwm_bytes
    figures.stage_seconds = dict(scraper.seconds)
    figures.stage_messages = dict(scraper.messages)
    seer_stats = services.seer_stats()
    figures.seer_requests = grouping_requests(seer_stats) - requests_before
    figures.seer_peak_per_second = int(seer_stats.get("max_per_second", 0))
    if recorder is not None:
        figures.profile = recorder.finish()
    window = _read_ledger(services.database_url, run_id, figures)
    if window is not None and sampler.samples:
        _sampled_figures(sampler.samples, window[0], window[1], figures)
    logger.info(
        "consumer run %d: %d groups in %.1f s (%.0f groups/s), exit code %d",
        index,
        figures.groups,
        figures.window_seconds,
        figures.groups_per_second,
        exit_code,
    )
    return figures


def median_of(runs: Sequence[ConsumerFigures], value: str) -> float:
    """Median of a numeric attribute or property over the runs."""
    return statistics.median(float(getattr(run, value)) for run in runs)
