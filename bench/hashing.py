"""Measure grouping throughput of one process against plain event parsing.

For each corpus of events this prints, per process and single-threaded:

- parse: `zlib.decompress` + `json.loads` of the stored form of each event
  (the node store keeps zlib-compressed JSON), the work every lookup does;
- seer: what the consumer's hashing stage computes per event, on events
  normalised beforehand: `has_stacktrace`, then `seer_inputs` (primary hash,
  Seer stacktrace string, frame-count filter, exception type);
- seer cold: the same with grouping's memos cleared before every pass over
  the corpus, so frames shared by events of the corpus are computed once
  per pass and no frame is remembered from earlier passes;
- full: `calculate_grouping` with every strategy and hint, `grouping_info()`
  and `get_stacktrace_string`, the path that explains a grouping;
- normalize+seer: `normalize_event` (Relay's normaliser) and then seer;
- the time ratio of each column to parse.

Each figure is the median of `--runs` runs, and one run loops over the corpus
until `--min-seconds` have passed. There are four corpora:

- Sentry's sample events from the shared reference directory, without the
  payloads that are not valid JSON;
- events the real sentry-sdk captures from the sample application
  (`consumers.samples`), many of them of the same issue;
- the same events made distinct issues with `vary_event` (renamed in-app
  frames, changed messages), as a backfill sees one event per issue;
- events it captures from exceptions raised in this script, chained and with
  stacks 3 to 60 frames deep.

Run: .venv/bin/python bench/hashing.py [--runs 5] [--sdk-events 200]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from consumers.grouping import (
    GroupingError,
    calculate_grouping,
    get_stacktrace_string,
    has_stacktrace,
    load_enhancements,
    normalize_event,
    seer_inputs,
)
from consumers.grouping.caches import clear_caches
from consumers.grouping.string_cases import default_shared_dir
from consumers.samples import vary_event

Event = dict[str, Any]


@dataclass(frozen=True)
class Corpus:
    name: str
    raw_events: list[Event]
    skipped: int


def load_sample_events(shared_dir: Path) -> Corpus:
    """Read Sentry's sample events, skipping files that are not valid JSON."""
    directory = shared_dir / "reference" / "sentry-samples"
    events: list[Event] = []
    skipped = 0
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            skipped += 1
            continue
        if isinstance(data, dict):
            events.append(data)
        else:
            skipped += 1
    if not events:
        raise SystemExit(f"no sample events found in {directory}")
    return Corpus("sentry samples", events, skipped)


# Real code paths for the SDK to capture: a recursion to make deep stacks and
# handlers that chain exceptions the way applications do.


def _descend(depth: int, leaf: Callable[[], object]) -> object:
    if depth <= 0:
        return leaf()
    return _descend(depth - 1, leaf)


def _parse_price(text: str) -> int:
    return int(text)


def _read_setting(settings: dict[str, str], key: str) -> str:
    return settings[key]


def _divide(total: int, parts: int) -> float:
    return total / parts


def _price_lookup(depth: int) -> None:
    try:
        _descend(depth, lambda: _parse_price("12,50"))
    except ValueError as error:
        raise RuntimeError("price lookup failed") from error


def _checkout(depth: int) -> None:
    try:
        _price_lookup(depth)
    except RuntimeError as error:
        raise LookupError("checkout aborted") from error


def _raise_one(kind: int, depth: int) -> None:
    if kind == 0:
        _descend(depth, lambda: _divide(10, 0))
    elif kind == 1:
        _descend(depth, lambda: _read_setting({}, "database_url"))
    elif kind == 2:
        _price_lookup(depth)
    else:
        _checkout(depth)


class _CapturingTransport(Transport):
    """A sentry-sdk transport that keeps the events instead of sending them."""

    def __init__(self) -> None:
        super().__init__(None)
        self.events: list[Event] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        # Decode the bytes the SDK would send, as Sentry receives them.
        for item in envelope.items:
            if item.type == "event":
                self.events.append(json.loads(item.get_bytes()))


def sample_app_events(count: int) -> Corpus:
    """Capture `count` events from the sample application's scenarios."""
    from consumers.samples import generate_events

    return Corpus("sentry-sdk sample app", list(generate_events(count)), 0)


def distinct_issue_events(corpus: Corpus) -> Corpus:
    """Make every event of `corpus` its own issue (variation n of event n)."""
    events = [vary_event(event, n) for n, event in enumerate(corpus.raw_events)]
    return Corpus(f"{corpus.name}, distinct", events, 0)


def deep_chained_events(count: int) -> Corpus:
    """Capture `count` real exceptions with deep and chained stacks."""
    transport = _CapturingTransport()
    sentry_sdk.init(
        dsn="http://public@127.0.0.1:1/1",
        transport=transport,
        default_integrations=False,
        include_local_variables=True,
    )
    depths = (3, 10, 25, 45, 60)
    for index in range(count):
        try:
            _raise_one(index % 4, depths[index % len(depths)])
        except Exception as error:
            sentry_sdk.capture_exception(error)
    sentry_sdk.flush()
    sentry_sdk.get_client().close()
    return Corpus("sentry-sdk deep and chained", transport.events, 0)


def _cycle_until(
    work: Callable[[Any], object],
    items: Sequence[Any],
    seconds: float,
    before_pass: Callable[[], object] | None = None,
) -> float:
    """Run `work` over `items` repeatedly for at least `seconds`; return items/s.

    `before_pass` runs, and is timed, before every pass over `items`.
    """
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    while True:
        if before_pass is not None:
            before_pass()
        for item in items:
            work(item)
        done += len(items)
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - started)


def _compressed(events: Sequence[Event]) -> list[bytes]:
    return [zlib.compress(json.dumps(event).encode("utf-8")) for event in events]


def _normalized(events: Sequence[Event]) -> Iterator[Event]:
    for event in events:
        try:
            yield normalize_event(event)
        except GroupingError as error:
            print(
                f"  skipped an event the normaliser rejects: {error}", file=sys.stderr
            )


COLUMNS = ("parse", "seer", "seer cold", "full", "normalize+seer")


def measure(corpus: Corpus, runs: int, seconds: float) -> dict[str, float]:
    enhancements = load_enhancements()
    normalized = list(_normalized(corpus.raw_events))
    payloads = _compressed(normalized)

    def parse(payload: bytes) -> object:
        return json.loads(zlib.decompress(payload))

    def seer(event: Event) -> object:
        if not has_stacktrace(event):
            return None
        return seer_inputs(event, enhancements=enhancements)

    def full(event: Event) -> object:
        result = calculate_grouping(event, enhancements=enhancements)
        return get_stacktrace_string(result.grouping_info(), event.get("platform"))

    def normalize_and_seer(event: Event) -> object:
        return seer(normalize_event(event))

    def forget() -> None:
        clear_caches(enhancements)

    # The columns take turns within each run, so that a burst of load from
    # other processes slows all of them rather than one.
    columns: dict[
        str,
        tuple[Callable[[Any], object], Sequence[Any], Callable[[], object] | None],
    ] = {
        "parse": (parse, payloads, None),
        "seer": (seer, normalized, None),
        "seer cold": (seer, normalized, forget),
        "full": (full, normalized, None),
        "normalize+seer": (normalize_and_seer, corpus.raw_events, None),
    }
    samples: dict[str, list[float]] = {name: [] for name in columns}
    for _ in range(runs):
        for name, (work, items, before_pass) in columns.items():
            samples[name].append(_cycle_until(work, items, seconds, before_pass))

    rates = {name: statistics.median(values) for name, values in samples.items()}
    rates["events"] = float(len(normalized))
    return rates


def format_rows(rows: list[tuple[Corpus, dict[str, float]]]) -> str:
    """Return a table: events/s per column and, after each, its time ratio to parse."""
    width = max(len(corpus.name) for corpus, _rates in rows)
    header = f"{'corpus':<{width}} {'events':>6} " + " ".join(
        f"{name + '/s':>16}" for name in COLUMNS
    )
    lines = [header, "-" * len(header)]
    for corpus, rates in rows:
        cells = [f"{rates['parse']:>16.0f}"]
        for name in COLUMNS[1:]:
            ratio = rates["parse"] / rates[name]
            cells.append(f"{rates[name]:>9.0f} ({ratio:4.1f}x)")
        lines.append(
            f"{corpus.name:<{width}} {int(rates['events']):>6} " + " ".join(cells)
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure")
    parser.add_argument(
        "--min-seconds", type=float, default=0.5, help="minimum seconds per run"
    )
    parser.add_argument(
        "--sdk-events", type=int, default=200, help="events per SDK corpus"
    )
    parser.add_argument(
        "--shared-dir", type=Path, default=None, help="directory containing reference/"
    )
    args = parser.parse_args(argv)

    sample_app = sample_app_events(args.sdk_events)
    corpora = [
        load_sample_events(args.shared_dir or default_shared_dir()),
        sample_app,
        distinct_issue_events(sample_app),
        deep_chained_events(args.sdk_events),
    ]

    print(
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs ({platform.processor() or 'unknown processor'}); "
        f"median of {args.runs} runs of >= {args.min_seconds}s, one process"
    )
    print(f"sample payloads skipped as invalid JSON: {corpora[0].skipped}")
    rows = [
        (corpus, measure(corpus, args.runs, args.min_seconds)) for corpus in corpora
    ]
    print(format_rows(rows))
    print("(ratio) = time per event of that column / time per event of parse")


if __name__ == "__main__":
    main()
