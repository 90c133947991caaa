from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from consumers.grouping import calculate_grouping, normalize_event
from consumers.samples import SCENARIOS, generate_events, vary_event

END = datetime(2026, 1, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def base_events() -> list[dict[str, Any]]:
    return list(generate_events(2 * len(SCENARIOS), seed=21, end=END))


def primary_hash(event: dict[str, Any]) -> str | None:
    return calculate_grouping(normalize_event(event, project_id=1)).primary_hash


def test_vary_distinct_ids(base_events: list[dict[str, Any]]) -> None:
    ids = {vary_event(base_events[0], n)["event_id"] for n in range(500)}
    assert len(ids) == 500


def test_vary_is_deterministic(base_events: list[dict[str, Any]]) -> None:
    first = json.dumps(vary_event(base_events[0], 17), sort_keys=True)
    second = json.dumps(vary_event(base_events[0], 17), sort_keys=True)
    assert first == second


def test_vary_leaves_input_unchanged(base_events: list[dict[str, Any]]) -> None:
    original = copy.deepcopy(base_events[1])
    vary_event(base_events[1], 3)
    assert base_events[1] == original


def test_vary_distinct_hashes_per_event(base_events: list[dict[str, Any]]) -> None:
    for event in base_events[:: len(SCENARIOS) // 6]:
        hashes = {primary_hash(vary_event(event, n)) for n in range(40)}
        assert len(hashes) == 40, event["tags"]["scenario"]


def test_vary_hash_differs_from_base(base_events: list[dict[str, Any]]) -> None:
    event = base_events[0]
    assert primary_hash(vary_event(event, 0)) != primary_hash(event)


def test_vary_renames_in_app_functions(base_events: list[dict[str, Any]]) -> None:
    varied = vary_event(base_events[0], 36)
    frames = varied["exception"]["values"][-1]["stacktrace"]["frames"]
    app = [f for f in frames if f.get("in_app")]
    assert app
    assert all(f["function"].endswith("_vbk") for f in app)


def test_vary_shortens_chains(base_events: list[dict[str, Any]]) -> None:
    chained = next(e for e in base_events if len(e["exception"]["values"]) >= 2)
    lengths = {len(vary_event(chained, n)["exception"]["values"]) for n in range(6)}
    assert lengths == set(range(1, len(chained["exception"]["values"]) + 1))


def test_vary_drops_stored_hashes() -> None:
    event = {"event_id": "a" * 32, "message": "m", "hashes": ["b" * 32]}
    assert "hashes" not in vary_event(event, 1)


def test_vary_message_only_event() -> None:
    event = {"event_id": "a" * 32, "message": "disk full"}
    hashes = {primary_hash(vary_event(event, n)) for n in range(20)}
    assert len(hashes) == 20


def test_vary_rejects_negative() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        vary_event({"message": "m"}, -1)
