"""The benchmark's figures as a Markdown section, and the machine they came from."""

from __future__ import annotations

import math
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench.baseline import BaselineFigures
from bench.consumer_run import ConsumerFigures, ConsumerSetup
from bench.dataset import DatasetInfo
from bench.pyspy import UNATTRIBUTED, Profile
from bench.services import SeerSettings
from bench.stage_cpu import HashingCost, StageProfile

MB = 1e6
TARGET_SPEEDUP = 10.0
TARGET_GROUPS_PER_SECOND = 2_000.0
TARGET_HASH_RATIO = 3.0
BENCHMARKS_HEADER = """# Benchmarks

Throughput and memory of the backfill consumer against a sequential baseline
of the original design, measured by `bench/run.py` (`make bench`). Each
section is one invocation; the newest is last. Machines are shared and
noisy: compare the consumer with the baseline of the same section.
"""


def machine_description() -> dict[str, str]:
    """Describe this machine: nproc, memory, CPU model, Python, kernel, load."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = "unknown"
    try:
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                    break
    except OSError:
        pass
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "memory": memory,
        "cpu": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load average at start (1, 5, 15 min)": load,
    }


@dataclass
class Results:
    command: str
    started: datetime
    machine: dict[str, str]
    dataset: DatasetInfo
    distinct_sample: tuple[int, int]
    seer: SeerSettings
    consumer: ConsumerSetup
    consumer_settings: dict[str, int]
    baseline: BaselineFigures
    runs: list[ConsumerFigures]
    hashing: HashingCost | None = None
    stages: StageProfile | None = None
    profile: ConsumerFigures | None = None
    note: str = ""
    problems: list[str] = field(default_factory=list)

    def consumer_gps(self) -> float:
        return statistics.median(r.groups_per_second for r in self.runs)

    def ratio(self) -> float:
        baseline = self.baseline.groups_per_second
        return self.consumer_gps() / baseline if baseline > 0 else 0.0

    def peak_rss_mb(self) -> float:
        return max(r.peak_rss_bytes for r in self.runs) / MB

    def summary_line(self) -> str:
        return (
            f"summary: consumer_gps={self.consumer_gps():.0f} "
            f"baseline_gps={self.baseline.groups_per_second:.1f} "
            f"ratio={self.ratio():.1f} peak_rss_mb={self.peak_rss_mb():.0f}"
        )


def _percentile(values: Sequence[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def _met(value: bool) -> str:
    return "met" if value else "**not met**"


def _setup_lines(results: Results) -> list[str]:
    info = results.dataset
    sampled, distinct = results.distinct_sample
    setup = results.consumer
    flags = " ".join(setup.flags) or "none"
    settings = ", ".join(
        f"{name}={value}" for name, value in results.consumer_settings.items()
    )
    environment = " ".join(f"{key}={value}" for key, value in setup.environment)
    build = "reused" if info.reused else f"built in {info.build_seconds:.0f} s"
    lines = [
        f"Command: `{results.command}`",
        "",
        "Machine: "
        + "; ".join(f"{key} {value}" for key, value in results.machine.items()),
        "",
        f"Dataset: {info.config.groups:,} groups in {len(info.project_sizes):,} "
        f"projects (Zipf exponent {info.config.zipf_exponent}; largest "
        f"{info.largest_project:,} groups, smallest {min(info.project_sizes):,}), "
        f"varied from {info.base_events} distinct base events out of "
        f"{info.config.sdk_events} SDK events; {info.payload_bytes / MB:.0f} MB "
        f"of compressed payloads; {build}.",
    ]
    if sampled:
        lines.append(
            f"Sample check: {distinct} distinct (grouping hash, stacktrace string) "
            f"pairs among {sampled} sampled groups."
        )
    lines += [
        "",
        f"Seer-compatible service (own process): {results.seer.latency_ms:g} ms per "
        f"request, at most {results.seer.max_concurrency} requests at once. "
        f"Topic partitions: {setup.partitions}. Groups per chain of a split "
        f"project: {setup.chain_groups or 'no split'}. Consumer flags: {flags}; "
        f"its settings: {settings}."
        + (f" Consumer environment: {environment}." if environment else ""),
    ]
    if results.note:
        lines += ["", f"Note: {results.note}"]
    return lines


def _comparison(results: Results) -> list[str]:
    base = results.baseline
    runs = results.runs
    consumer_batches = [s for r in runs for s in r.batch_seconds]
    return [
        f"| figure | baseline (sequential) | consumer (median of {len(runs)} runs) |",
        "|---|---:|---:|",
        f"| groups/s | {base.groups_per_second:.1f} | {results.consumer_gps():.0f} |",
        f"| consumer / baseline | | {results.ratio():.1f}x |",
        f"| batch latency p50 (ms) | {_ms(_percentile(base.batch_seconds, 0.5))} "
        f"| {_ms(_percentile(consumer_batches, 0.5))} |",
        f"| batch latency p99 (ms) | {_ms(_percentile(base.batch_seconds, 0.99))} "
        f"| {_ms(_percentile(consumer_batches, 0.99))} |",
        f"| Seer requests/s | {base.seer_requests / max(base.seconds, 1e-9):.1f} "
        f"| {_median([r.seer_requests_per_second for r in runs]):.1f} |",
        f"| Seer requests in the busiest second | "
        f"| {max((r.seer_peak_per_second for r in runs), default=0)} |",
        f"| groups measured | {base.groups:,} ({base.stopped_by}) "
        f"| {_median([r.groups for r in runs]):,.0f} |",
        f"| measured seconds | {base.seconds:.1f} "
        f"| {_median([r.window_seconds for r in runs]):.1f} |",
        f"| peak RSS (MB) | | {results.peak_rss_mb():.0f} |",
    ]


def _run_table(runs: Sequence[ConsumerFigures]) -> list[str]:
    lines = [
        "| run | groups | window s | wall s | groups/s | 90% done s | longest "
        "project s | p50 ms | p99 ms | Seer req/s | Seer peak req/s | peak RSS MB "
        "| RSS MB at 10/50/100% | VmHWM MB | exit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for index, run in enumerate(runs, start=1):
        rss = "/".join(
            f"{run.rss_bytes_at.get(key, 0) / MB:.0f}" for key in ("10%", "50%", "100%")
        )
        lines.append(
            f"| {index} | {run.groups:,} | {run.window_seconds:.1f} | "
            f"{run.wall_seconds:.1f} | {run.groups_per_second:.0f} | "
            f"{run.seconds_to_90_percent:.1f} | {run.longest_project_seconds:.1f} | "
            f"{_ms(_percentile(run.batch_seconds, 0.5))} | "
            f"{_ms(_percentile(run.batch_seconds, 0.99))} | "
            f"{run.seer_requests_per_second:.1f} | {run.seer_peak_per_second} | "
            f"{run.peak_rss_bytes / MB:.0f} | "
            f"{rss} | {run.peak_hwm_bytes / MB:.0f} | {run.exit_code} |"
        )
    return lines


# CPU roles of the sampler, in report order, with their descriptions.
_CPU_ROLES = (
    ("consumer", "consumer process and its hashing workers"),
    ("seer", "Seer-compatible service process"),
    ("postgres", "PostgreSQL, all server processes"),
    ("postgres:consumer", "of which the consumer's connections"),
    ("postgres:seer", "of which the Seer service's connections"),
    ("broker", "tansu broker"),
    ("machine", "whole machine, other work included"),
)


# The processes a production deployment runs on the consumer's side: the
# consumer, its share of PostgreSQL and the broker.
CONSUMER_SIDE = ("consumer", "postgres:consumer", "broker")


# Every process the benchmark runs. A server given by --database-url may serve
# other clients too, so only the consumer's and Seer's connections count there.
WHOLE_BENCHMARK = ("consumer", "seer", "postgres", "broker")
WHOLE_BENCHMARK_SHARED_SERVER = (
    "consumer",
    "seer",
    "postgres:consumer",
    "postgres:seer",
    "broker",
)


def _cpu_per_thousand(runs: Sequence[ConsumerFigures], roles: Sequence[str]) -> float:
    """Return the median over runs of the CPU seconds of `roles` per 1,000 groups."""
    return _median(
        [
            1000 * sum(run.cpu_seconds.get(role, 0.0) for role in roles) / run.groups
            for run in runs
            if run.groups
        ]
    )


def _cpu_table(runs: Sequence[ConsumerFigures], nproc: int) -> list[str]:
    lines = [
        "CPU time of each process during the measured window (median of runs): "
        "seconds per 1,000 groups, and the share of the machine's "
        f"{nproc} CPUs it kept busy.",
        "",
        "| process | CPU s per 1,000 groups | share of the machine |",
        "|---|---:|---:|",
    ]
    for role, description in _CPU_ROLES:
        per_thousand = [
            1000 * run.cpu_seconds[role] / run.groups
            for run in runs
            if run.groups and role in run.cpu_seconds
        ]
        busy = [
            run.cpu_seconds[role] / (run.window_seconds * nproc)
            for run in runs
            if run.window_seconds > 0 and role in run.cpu_seconds
        ]
        if not per_thousand:
            continue
        lines.append(
            f"| {role} ({description}) | {_median(per_thousand):.2f} | "
            f"{100 * _median(busy):.0f}% |"
        )
    side = _cpu_per_thousand(runs, CONSUMER_SIDE)
    if side > 0:
        lines += [
            "",
            f"Consumer side ({' + '.join(CONSUMER_SIDE)}): {side:.2f} CPU s per "
            f"1,000 groups, so at most about {1000 * nproc / side:,.0f} groups/s "
            f"on {nproc} CPUs left to it alone (an estimate: Seer runs elsewhere "
            "in production, and no other work would share the CPUs).",
        ]
    roles = (
        WHOLE_BENCHMARK
        if all("postgres" in run.cpu_seconds for run in runs)
        else WHOLE_BENCHMARK_SHARED_SERVER
    )
    whole = _cpu_per_thousand(runs, roles)
    if whole > 0:
        lines += [
            "",
            f"Whole benchmark ({' + '.join(roles)}): {whole:.2f} CPU s "
            f"per 1,000 groups, so at most about {1000 * nproc / whole:,.0f} "
            f"groups/s with all {nproc} CPUs busy. At this cost, "
            f"{TARGET_GROUPS_PER_SECOND:,.0f} groups/s would need about "
            f"{whole * TARGET_GROUPS_PER_SECOND / 1000:.1f} CPUs.",
        ]
    return lines


def _stage_lines(results: Results) -> list[str]:
    lines: list[str] = []
    base = results.baseline
    stages = results.stages
    if stages is not None and stages.groups:
        cpu = stages.per_thousand(stages.cpu)
        wall = stages.per_thousand(stages.wall)
        lines += [
            "CPU seconds per 1,000 groups by stage: the consumer's stage functions "
            f"run one after the other in the benchmark process on {stages.groups:,} "
            f"groups ({stages.batches} batches), process CPU time charged per call; "
            "the baseline's from its own run (thread CPU time).",
            "",
            "| stage | consumer CPU s | consumer wall s | baseline CPU s |",
            "|---|---:|---:|---:|",
        ]
        base_cpu = {
            stage: 1000 * seconds / base.groups if base.groups else 0.0
            for stage, seconds in base.stage_cpu.items()
        }
        for stage in cpu:
            baseline_stage = "mark" if stage == "onward" else stage
            lines.append(
                f"| {stage} | {cpu[stage]:.3f} | {wall[stage]:.3f} | "
                f"{base_cpu.get(baseline_stage, 0.0):.3f}"
                + (" (mark)" if stage == "onward" else "")
                + " |"
            )
        lines.append(
            f"| total | {sum(cpu.values()):.3f} | {sum(wall.values()):.3f} | "
            f"{sum(base_cpu.values()):.3f} |"
        )
    run = results.runs[-1] if results.runs else None
    if run is not None and run.stage_messages:
        lines += [
            "",
            "Mean wall time a batch spends in each stage of the real consumer "
            "(`seer_backfill_stage_duration_seconds`, last run), in ms: "
            + ", ".join(
                f"{stage} {_ms(run.stage_seconds.get(stage, 0.0) / count)}"
                for stage, count in sorted(run.stage_messages.items())
                if count
            )
            + ".",
        ]
    return lines


def _hashing_lines(cost: HashingCost) -> list[str]:
    target = f"target <= {TARGET_HASH_RATIO:g}"
    return [
        f"Hashing against parsing, {cost.events} node-store payloads: "
        f"decompress + parse {cost.parse_seconds * 1000:.3f} ms per event; "
        "`grouping.seer_inputs` (variants, primary hash, frame count, stacktrace "
        f"string) {cost.first_hash_seconds * 1000:.3f} ms per event on a first "
        f"pass over frames new to the memos (ratio {cost.first_ratio:.1f}; "
        f"{target}: {_met(cost.first_ratio <= TARGET_HASH_RATIO)}) and "
        f"{cost.hash_seconds * 1000:.3f} ms on repeated passes, median of 3 "
        f"(ratio {cost.ratio:.1f}). The first pass follows a warm-up pass over "
        f"{cost.warm_up_events} other payloads, as in a consumer that has run "
        "for a while, and meets new frames at about the rate the consumer "
        "does on this dataset. Larger datasets repeat fewer frames between "
        "events, so their first pass costs more. Repeated passes hit the "
        "grouping memos only as far as the sample's distinct frames fit in "
        "them.",
    ]


def _profile_lines(run: ConsumerFigures, profile: Profile) -> list[str]:
    unattributed = profile.by_stage.get(UNATTRIBUTED, 0)
    total = max(profile.samples - unattributed, 1)
    shares = ", ".join(
        f"{stage} {100 * count / total:.0f}%"
        for stage, count in sorted(profile.by_stage.items(), key=lambda kv: -kv[1])
        if stage != UNATTRIBUTED
    )
    lines = [
        f"py-spy profile of an extra consumer run ({run.groups:,} groups, "
        f"{run.groups_per_second:.0f} groups/s while sampled; not in the medians): "
        f"{total:,} non-idle samples with Python frames ({unattributed:,} more "
        f"without any); by stage: {shares}. Top innermost functions:",
        "",
    ]
    for function, count in profile.top_functions:
        lines.append(f"- {100 * count / total:.1f}% `{function}`")
    return lines


def render(results: Results) -> str:
    """Render the Markdown section of one invocation."""
    info = results.dataset
    title = (
        f"## {results.started:%Y-%m-%d %H:%M} UTC: {info.config.groups:,} groups, "
        f"{len(results.runs)} consumer runs"
    )
    lines = [title, "", *_setup_lines(results), "", *_comparison(results), ""]
    lines += ["Consumer runs:", "", *_run_table(results.runs), ""]
    nproc = int(results.machine.get("nproc", "1"))
    lines += [*_cpu_table(results.runs, nproc), ""]
    stage_lines = _stage_lines(results)
    if stage_lines:
        lines += [*stage_lines, ""]
    if results.hashing is not None:
        lines += [*_hashing_lines(results.hashing), ""]
    if results.profile is not None and results.profile.profile is not None:
        lines += [*_profile_lines(results.profile, results.profile.profile), ""]
    gps = results.consumer_gps()
    lines += [
        f"Targets: consumer >= {TARGET_SPEEDUP:g}x baseline: "
        f"{_met(results.ratio() >= TARGET_SPEEDUP)}; >= "
        f"{TARGET_GROUPS_PER_SECOND:,.0f} groups/s: "
        f"{_met(gps >= TARGET_GROUPS_PER_SECOND)}.",
    ]
    ceiling = _rate_ceiling(results.consumer.flags)
    if ceiling is not None:
        # The client's token bucket has room for one request, so any
        # one-second window sees at most 1 + rate requests.
        allowed = math.floor(ceiling) + 1
        peak = max((r.seer_peak_per_second for r in results.runs), default=0)
        lines += [
            "",
            f"Seer ceiling of {ceiling:g} requests/s: at most {allowed} in any "
            f"one second (the rate plus a burst of one request), {peak} seen: "
            f"{_met(peak <= allowed)}.",
        ]
    if results.problems:
        lines += ["", "Problems: " + "; ".join(results.problems)]
    return "\n".join(lines) + "\n"


def _rate_ceiling(flags: Sequence[str]) -> float | None:
    """Return the consumer flags' `--seer-max-requests-per-second`, if above 0."""
    for flag in flags:
        name, _, value = flag.partition("=")
        if name == "--seer-max-requests-per-second":
            try:
                rate = float(value)
            except ValueError:
                return None
            return rate if rate > 0 else None
    return None


def append_section(path: Path, section: str) -> None:
    """Append a section to the benchmark record, creating it with a header."""
    if not path.exists():
        path.write_text(BENCHMARKS_HEADER, encoding="utf-8")
    with path.open("a", encoding="utf-8") as record:
        record.write("\n" + section)
