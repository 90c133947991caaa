from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sentry_sdk.envelope import Envelope as SdkEnvelope

from consumers.samples import (
    SCENARIOS,
    generate_events,
    plan_scenarios,
    write_envelopes,
    write_json,
)
from consumers.samples.capture import EnvelopeCollector, SdkCapture

END = datetime(2026, 1, 10, tzinfo=UTC)


def test_generate_count_and_sdk_shape(no_network: list[Any]) -> None:
    events = list(generate_events(20, seed=1, end=END))
    assert len(events) == 20
    assert all(e["platform"] == "python" for e in events)
    assert all(e["sdk"]["name"] == "sentry.python" for e in events)
    assert all(e["exception"]["values"] for e in events)
    assert no_network == []


def test_generate_same_seed_same_ids() -> None:
    first = [e["event_id"] for e in generate_events(10, seed=7, end=END)]
    second = [e["event_id"] for e in generate_events(10, seed=7, end=END)]
    assert first == second


def test_generate_other_seed_other_ids() -> None:
    first = {e["event_id"] for e in generate_events(5, seed=1, end=END)}
    second = {e["event_id"] for e in generate_events(5, seed=2, end=END)}
    assert not first & second


def test_generate_timestamps_rise_within_span() -> None:
    events = list(generate_events(30, seed=3, end=END, span=timedelta(days=2)))
    stamps = [datetime.fromisoformat(e["timestamp"]) for e in events]
    assert stamps == sorted(stamps)
    assert stamps[0] > END - timedelta(days=2)
    assert stamps[-1] <= END


def test_generate_every_scenario_twice() -> None:
    events = list(generate_events(2 * len(SCENARIOS) + 10, seed=5, end=END))
    counts = Counter(e["tags"]["scenario"] for e in events)
    assert set(counts) == {s.name for s in SCENARIOS}
    assert min(counts.values()) >= 2


def test_plan_is_skewed() -> None:
    plan = plan_scenarios(2000, SCENARIOS, random.Random(0))
    counts = Counter(s.name for s in plan).most_common()
    assert counts[0][1] > 5 * counts[-1][1]


def test_generate_captures_chained_exceptions() -> None:
    events = list(generate_events(2 * len(SCENARIOS), seed=0, end=END))
    chain_lengths = {len(e["exception"]["values"]) for e in events}
    assert max(chain_lengths) >= 2


def test_generate_marks_app_frames_in_app() -> None:
    event = next(generate_events(1, seed=0, end=END))
    frames = event["exception"]["values"][-1]["stacktrace"]["frames"]
    app = [f for f in frames if f["module"].startswith("consumers.samples.app")]
    assert app
    assert all(f["in_app"] is True for f in app)


def test_generate_rejects_naive_end() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_events(1, end=datetime(2026, 1, 1))


def test_generate_rejects_negative_count() -> None:
    with pytest.raises(ValueError, match="count must be >= 0"):
        generate_events(-1)


def test_capture_uses_collector_only(no_network: list[Any]) -> None:
    with SdkCapture() as capture:
        assert isinstance(capture.client.transport, EnvelopeCollector)
        envelope = capture.capture(ValueError("boom"), event_id="c" * 32, timestamp=END)
    assert envelope.headers["event_id"] == "c" * 32
    assert no_network == []


def test_write_envelopes_round_trip(tmp_path: Path) -> None:
    events = list(generate_events(3, seed=2, end=END))
    paths = write_envelopes(events, tmp_path)
    assert [p.name for p in paths] == [f"{e['event_id']}.envelope" for e in events]
    parsed = SdkEnvelope.deserialize(paths[0].read_bytes())
    assert parsed.get_event() == events[0]


def test_write_envelopes_from_count(tmp_path: Path) -> None:
    paths = write_envelopes(4, tmp_path / "new", seed=1)
    assert len(list((tmp_path / "new").iterdir())) == 4
    assert all(p.suffix == ".envelope" for p in paths)


def test_write_json_list(tmp_path: Path) -> None:
    written = write_json(generate_events(3, seed=2, end=END), tmp_path / "events.json")
    loaded = json.loads((tmp_path / "events.json").read_text())
    assert written == 3
    assert len(loaded) == 3
