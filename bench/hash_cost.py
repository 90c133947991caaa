"""Hashing against parsing, alone and repeated: the benchmark's first step.

Each run is a new process, because the first pass must meet frames that
the process has not seen. Prints each run and the medians, and ends with
one `summary:` line. The database must exist, and the schema is created
when missing. The dataset is built unless one with the same settings is
there, as `bench/run.py --database-url` leaves it with default settings.
Exits 0 on success, 1 when a step fails, 2 on bad usage, 143 after SIGTERM.

Run: .venv/bin/python bench/hash_cost.py --database-url URL [--runs 5]
"""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

# `python bench/hash_cost.py` puts bench/ first on sys.path; the `bench`
# package must be imported from the repository root instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import click  # noqa: E402
import psycopg  # noqa: E402

from bench import dataset, stage_cpu  # noqa: E402
from bench.report import TARGET_HASH_RATIO  # noqa: E402
from consumers.cli.main import run_command  # noqa: E402
from consumers.cli.options import database_error_message  # noqa: E402
from consumers.db.migrate import migrate  # noqa: E402


def _one_run(database_url: str, sample: int) -> None:
    try:
        cost = stage_cpu.hashing_versus_parsing(database_url, sample)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    click.echo(json.dumps(asdict(cost)))


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # SystemExit makes subprocess.run kill the run in progress, and the
    # dataset build terminate its workers.
    raise SystemExit(128 + signum)


def _check_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    # The value is not echoed, because a URL may contain a password.
    if urlsplit(value).scheme not in ("postgresql", "postgres"):
        raise click.BadParameter(
            "expected a postgresql:// URL, such as "
            "postgresql://postgres@127.0.0.1:5432/bench"
        )
    return value


def _run_in_new_process(database_url: str, sample: int) -> stage_cpu.HashingCost:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--database-url",
        database_url,
        "--sample",
        str(sample),
        "--one-run",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise click.ClickException(
            f"a run failed with exit code {done.returncode}: "
            f"{done.stderr.strip()[-2000:]}"
        )
    return stage_cpu.HashingCost(**json.loads(done.stdout.splitlines()[-1]))


def _line(cost: stage_cpu.HashingCost, first_ratio: float, ratio: float) -> str:
    return (
        f"parse {cost.parse_seconds * 1000:.3f} ms per event, first pass "
        f"{cost.first_hash_seconds * 1000:.3f} ms (ratio {first_ratio:.2f}), "
        f"repeated {cost.hash_seconds * 1000:.3f} ms (ratio {ratio:.2f})"
    )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database-url",
    required=True,
    callback=_check_url,
    help="An existing PostgreSQL database, empty or containing the benchmark "
    "dataset. Its schema is created when missing.",
)
@click.option(
    "--groups",
    type=click.IntRange(min=1, max=1_000_000),
    default=10_000,
    show_default=True,
    help="Groups of the dataset to build or reuse. Results depend on it: the "
    "more groups, the fewer frames repeat between events.",
)
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Node-store payloads per pass (events). As many more warm up first.",
)
@click.option(
    "--runs",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Runs, each in a new process. Medians are printed.",
)
@click.option("--one-run", is_flag=True, hidden=True)
def main(database_url: str, groups: int, sample: int, runs: int, one_run: bool) -> None:
    """Time grouping and the stacktrace string against decompressing and
    parsing the same node-store payloads, in ms per event."""
    if one_run:
        _one_run(database_url, sample)
        return
    signal.signal(signal.SIGTERM, _exit_on_sigterm)

    if groups < 2 * sample:
        raise click.UsageError(
            f"--sample {sample} needs at least {2 * sample} groups, for the "
            "warm-up and the timed passes"
        )
    try:
        migrate(database_url)
        dataset.build_dataset(database_url, dataset.DatasetConfig(groups=groups))
    except (psycopg.Error, RuntimeError) as error:
        message = database_error_message(error, database_url)
        raise click.ClickException(
            message or f"cannot use the dataset: {error}"
        ) from error

    costs = []
    for number in range(1, runs + 1):
        cost = _run_in_new_process(database_url, sample)
        costs.append(cost)
        click.echo(f"run {number}: {_line(cost, cost.first_ratio, cost.ratio)}")
    first_ratio = statistics.median(c.first_ratio for c in costs)
    ratio = statistics.median(c.ratio for c in costs)

    median = stage_cpu.HashingCost(
        events=costs[0].events,
        warm_up_events=costs[0].warm_up_events,
        parse_seconds=statistics.median(c.parse_seconds for c in costs),
        first_hash_seconds=statistics.median(c.first_hash_seconds for c in costs),
        hash_seconds=statistics.median(c.hash_seconds for c in costs),
    )
    click.echo(
        f"median of {runs}: {_line(median, first_ratio, ratio)}; ratios are "
        f"medians of the runs' ratios, over {median.events} events after "
        f"{median.warm_up_events} to warm up"
    )
    # The target is an upper bound on the first-pass ratio.
    met = "yes" if first_ratio <= TARGET_HASH_RATIO else "no"
    ratios = ",".join(f"{r:.2f}" for r in sorted(c.first_ratio for c in costs))
    click.echo(
        f"summary: first_pass_ratio={first_ratio:.2f} repeated_ratio={ratio:.2f} "
        f"target={TARGET_HASH_RATIO:g} target_met={met} first_pass_ratios={ratios}"
    )


if __name__ == "__main__":
    run_command(main)
