"""Time the local Seer service's embedding and bucket keys per stacktrace string.

The Seer-compatible service computes, for every record it stores,
`embed(stacktrace)` and then `bucket_keys(project_id, embedding)`
(`consumers.seer.service.embedding`). This script times both on the
stacktrace strings that the consumer sends. The real sentry-sdk captures
events of the sample application once, and one event per grouping hash is
kept as a base, as `bench/dataset.py` does. String `i` is the Seer
stacktrace string (`consumers.grouping.seer_inputs`) of variation
`i // len(bases)` of base `i % len(bases)` (`consumers.samples.vary_event`).
Events whose string is empty (no stacktrace, or too many frames) are
skipped.

Times are CPU time of this process (`time.process_time`) in microseconds per
string, because that is what the service takes from the consumer on a shared
machine. Each figure is the median of `--runs` runs. One run is one pass over
all strings in chunks of 50: `embed` on every string of the chunk, then
`bucket_keys` on every embedding.

`--module FILE` adds another implementation of the embedding module, for
example a copy of an older version kept outside the repository. The
implementations take turns on every chunk, so that a burst of load from
other processes slows all of them. Their outputs (components, norm and keys)
must be identical on every string, or the script exits with status 1.

Run: .venv/bin/python bench/seer_embedding.py [--runs 7] [--module OLD.py]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# `python bench/seer_embedding.py` puts bench/ first on sys.path, so the
# repository root takes its place: `bench` and `consumers` are imported from it.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.dataset import capture_base_events  # noqa: E402
from consumers.grouping import (  # noqa: E402
    has_stacktrace,
    load_enhancements,
    seer_inputs,
)
from consumers.samples import vary_event  # noqa: E402
from consumers.seer.service import embedding as current_embedding  # noqa: E402

PROJECT_ID = 42
# Strings per turn of one implementation within a run.
CHUNK_STRINGS = 50


@dataclass(frozen=True)
class Implementation:
    """The two timed functions of one version of the embedding module."""

    name: str
    embed: Callable[[str], Any]
    bucket_keys: Callable[[int, Any], list[int]]


def load_implementation(path: Path, index: int) -> Implementation:
    """Import the module file at `path` under a name of its own."""
    name = f"_seer_embedding_{index}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}: not a Python module file")
    module = importlib.util.module_from_spec(spec)
    # dataclasses look up the module of a class being defined in sys.modules.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return Implementation(str(path), module.embed, module.bucket_keys)


def stacktrace_strings(count: int, sdk_events: int, seed: int) -> list[str]:
    """Return `count` Seer stacktrace strings of varied SDK events.

    Raises SystemExit when a whole variation of the base events has no string.
    """
    enhancements = load_enhancements(None)
    bases = capture_base_events(sdk_events, seed)
    strings: list[str] = []
    variation = 0
    while len(strings) < count:
        found = len(strings)
        for base in bases:
            event = vary_event(base, variation)
            if not has_stacktrace(event):
                continue
            stacktrace = seer_inputs(event, enhancements=enhancements).stacktrace
            if stacktrace:
                strings.append(stacktrace)
            if len(strings) == count:
                break
        if len(strings) == found:
            raise SystemExit(
                f"variation {variation} of the {len(bases)} base events has no "
                "stacktrace string: capture more events with --sdk-events"
            )
        variation += 1
    return strings


def outputs(implementation: Implementation, strings: Sequence[str]) -> list[Any]:
    """Return each string's components, norm and bucket keys."""
    rows = []
    for stacktrace in strings:
        embedding = implementation.embed(stacktrace)
        keys = implementation.bucket_keys(PROJECT_ID, embedding)
        rows.append((embedding.components.tobytes(), embedding.norm, keys))
    return rows


def time_chunk(
    implementation: Implementation, strings: Sequence[str]
) -> tuple[float, float]:
    """Return the CPU seconds of `embed` and of `bucket_keys` on `strings`."""
    embed = implementation.embed
    bucket_keys = implementation.bucket_keys
    started = time.process_time()
    embeddings = [embed(stacktrace) for stacktrace in strings]
    embedded = time.process_time()
    for embedding in embeddings:
        bucket_keys(PROJECT_ID, embedding)
    keyed = time.process_time()
    return embedded - started, keyed - embedded


def measure(
    implementations: Sequence[Implementation], strings: Sequence[str], runs: int
) -> dict[str, tuple[float, float]]:
    """Return the median microseconds per string of embed and bucket_keys.

    Within a run the implementations take turns on every chunk of
    `CHUNK_STRINGS` strings, in alternating order, so that load from other
    processes falls on all of them alike.
    """
    chunks = [
        strings[start : start + CHUNK_STRINGS]
        for start in range(0, len(strings), CHUNK_STRINGS)
    ]
    samples: dict[str, list[tuple[float, float]]] = {
        implementation.name: [] for implementation in implementations
    }
    for _ in range(runs):
        seconds = {
            implementation.name: [0.0, 0.0] for implementation in implementations
        }
        for index, chunk in enumerate(chunks):
            order = implementations if index % 2 == 0 else implementations[::-1]
            for implementation in order:
                embed, keys = time_chunk(implementation, chunk)
                seconds[implementation.name][0] += embed
                seconds[implementation.name][1] += keys
        for name, (embed, keys) in seconds.items():
            samples[name].append(
                (embed * 1e6 / len(strings), keys * 1e6 / len(strings))
            )
    return {
        name: (
            statistics.median(embed for embed, _keys in values),
            statistics.median(keys for _embed, keys in values),
        )
        for name, values in samples.items()
    }


def format_rows(
    implementations: Sequence[Implementation], medians: dict[str, tuple[float, float]]
) -> str:
    """Return a table of the medians, each with its speed-up over the last row."""
    width = max(len(implementation.name) for implementation in implementations)
    header = (
        f"{'implementation':<{width}} {'embed us':>9} {'bucket_keys us':>15} "
        f"{'both us':>9} {'speed-up (embed, keys, both)':>30}"
    )
    base_embed, base_keys = medians[implementations[-1].name]
    lines = [header, "-" * len(header)]
    for implementation in implementations:
        embed, keys = medians[implementation.name]
        speed_up = (
            f"{base_embed / embed:.2f}x, {base_keys / keys:.2f}x, "
            f"{(base_embed + base_keys) / (embed + keys):.2f}x"
        )
        lines.append(
            f"{implementation.name:<{width}} {embed:>9.1f} {keys:>15.1f} "
            f"{embed + keys:>9.1f} {speed_up:>30}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Times are CPU microseconds per stacktrace string (median of the runs).",
    )
    parser.add_argument(
        "--strings", type=int, default=2000, help="stacktrace strings per run"
    )
    parser.add_argument(
        "--runs", type=int, default=7, help="runs per figure (the median is shown)"
    )
    parser.add_argument(
        "--sdk-events", type=int, default=300, help="SDK events to capture as bases"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the SDK events")
    parser.add_argument(
        "--module",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="another implementation of the embedding module to time and compare "
        "(repeatable), for example a copy of an older version",
    )
    args = parser.parse_args(argv)
    if args.strings < 1 or args.runs < 1:
        parser.error("--strings and --runs must be at least 1")

    implementations = [
        Implementation(
            current_embedding.__name__,
            current_embedding.embed,
            current_embedding.bucket_keys,
        )
    ]
    implementations += [
        load_implementation(path, index) for index, path in enumerate(args.module)
    ]
    strings = stacktrace_strings(args.strings, args.sdk_events, args.seed)

    expected = outputs(implementations[0], strings)
    for implementation in implementations[1:]:
        if outputs(implementation, strings) != expected:
            print(
                f"the embeddings or bucket keys of {implementation.name} differ "
                f"from those of {implementations[0].name} on these strings: "
                "compare only implementations of the same algorithm",
                file=sys.stderr,
            )
            raise SystemExit(1)

    lines = sum(stacktrace.count("\n") + 1 for stacktrace in strings)
    characters = sum(len(stacktrace) for stacktrace in strings)
    print(
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        f"{len(strings)} strings ({len(set(strings))} distinct), "
        f"{lines / len(strings):.1f} lines and {characters / len(strings):.0f} "
        f"characters on average; CPU time, median of {args.runs} runs"
    )
    medians = measure(implementations, strings, args.runs)
    print(format_rows(implementations, medians))
    if len(implementations) > 1:
        print("speed-up = time per string of the last row / time of that row")


if __name__ == "__main__":
    main()
