"""Hashing against parsing, alone and repeated: the benchmark's first step.

Each run is a new process, because the first pass must meet frames that
the process has not seen. Prints each run and the medians, and ends with
one `summary:` line. The database must be migrated; the dataset is built
in it unless one with the same settings is there (as `bench/run.py
--database-url` leaves it). Exits 0 on success, 1 when a run fails, 2 on
bad usage.

Run: .venv/bin/python bench/hash_cost.py --database-url URL [--runs 5]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

# `python bench/hash_cost.py` puts bench/ first on sys.path; the `bench`
# package must be imported from the repository root instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import click  # noqa: E402
import psycopg  # noqa: E402

from bench import dataset, stage_cpu  # noqa: E402
from bench.report import TARGET_HASH_RATIO  # noqa: E402


def _one_run(database_url: str, sample: int) -> None:
    cost = stage_cpu.hashing_versus_parsing(database_url, sample)
    click.echo(json.dumps(asdict(cost)))


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


def _line(cost: stage_cpu.HashingCost) -> str:
    return (
        f"parse {cost.parse_seconds * 1000:.3f} ms, first pass "
        f"{cost.first_hash_seconds * 1000:.3f} ms (ratio {cost.first_ratio:.2f}), "
        f"repeated {cost.hash_seconds * 1000:.3f} ms (ratio {cost.ratio:.2f})"
    )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database-url",
    required=True,
    help="A migrated PostgreSQL database, empty or holding the benchmark dataset.",
)
@click.option(
    "--groups",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Groups of the dataset to build or reuse.",
)
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Node-store payloads per pass (events); as many more warm up.",
)
@click.option(
    "--runs",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Runs, each in a new process; medians are printed.",
)
@click.option("--one-run", is_flag=True, hidden=True)
def main(database_url: str, groups: int, sample: int, runs: int, one_run: bool) -> None:
    """Time grouping and the stacktrace string against decompressing and
    parsing the same node-store payloads, in ms per event."""
    if one_run:
        _one_run(database_url, sample)
        return
    if groups < 2 * sample:
        raise click.UsageError(
            f"--sample {sample} needs at least {2 * sample} groups, for the "
            "warm-up and the timed passes"
        )
    try:
        dataset.build_dataset(database_url, dataset.DatasetConfig(groups=groups))
    except (psycopg.Error, RuntimeError) as error:
        raise click.ClickException(f"cannot use the dataset: {error}") from error
    costs = []
    for number in range(1, runs + 1):
        cost = _run_in_new_process(database_url, sample)
        costs.append(cost)
        click.echo(f"run {number}: {_line(cost)}")
    median = stage_cpu.HashingCost(
        events=costs[0].events,
        warm_up_events=costs[0].warm_up_events,
        parse_seconds=statistics.median(c.parse_seconds for c in costs),
        first_hash_seconds=statistics.median(c.first_hash_seconds for c in costs),
        hash_seconds=statistics.median(c.hash_seconds for c in costs),
    )
    click.echo(f"median of {runs}: {_line(median)}")
    ratios = sorted(round(c.first_ratio, 2) for c in costs)
    click.echo(
        f"summary: first_pass_ratio={statistics.median(ratios):.2f} "
        f"repeated_ratio={statistics.median(c.ratio for c in costs):.2f} "
        f"target={TARGET_HASH_RATIO:g} first_pass_ratios={','.join(map(str, ratios))}"
    )


if __name__ == "__main__":
    main()
