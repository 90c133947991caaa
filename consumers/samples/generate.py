"""Generate Sentry error events by running scenarios under the real SDK.

Every event is the `event` item of an envelope the sentry-sdk produced for a
real exception. Scenarios are chosen with a skewed (Zipf-like) distribution,
so a few issues are frequent and many are rare. With enough events every
scenario occurs at least twice. A scenario whose stack depends on its input
(the nesting depth of a pricing rule) spreads over several issues, so a rare
one of those can still be seen once. Output
is deterministic for a seed except for SDK values that depend on the process
(trace ids, object reprs in local variables, `sent_at`).
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sentry_sdk.envelope import Envelope

if TYPE_CHECKING:
    from sentry_sdk._types import Event

from consumers.samples.capture import SdkCapture, event_payload
from consumers.samples.scenarios import SCENARIOS, Scenario, run_scenario

DEFAULT_SPAN = timedelta(days=7)
# Exponent of the Zipf-like weights: weight of rank r is 1 / (r + 1) ** SKEW.
SKEW = 1.1


def plan_scenarios(
    count: int, scenarios: Sequence[Scenario], rng: random.Random
) -> list[Scenario]:
    """Choose the scenario of each of `count` events.

    The popularity order is a seeded shuffle of `scenarios`. When `count` is at
    least twice the number of scenarios, each scenario appears twice before
    the skewed draw fills the rest; the result is shuffled.
    """
    if not scenarios:
        raise ValueError("no scenarios to choose from")
    ranked = list(scenarios)
    rng.shuffle(ranked)
    plan: list[Scenario] = []
    if count >= 2 * len(ranked):
        plan = ranked * 2
    weights = [1.0 / (rank + 1) ** SKEW for rank in range(len(ranked))]
    plan += rng.choices(ranked, weights=weights, k=count - len(plan))
    rng.shuffle(plan)
    return plan


def event_times(
    count: int, end: datetime, span: timedelta, rng: random.Random
) -> list[datetime]:
    """Spread `count` timestamps over (end - span, end], ascending."""
    start = end - span
    return [start + span * ((index + rng.random()) / count) for index in range(count)]


def generate_events(
    count: int,
    *,
    seed: int = 0,
    scenarios: Sequence[Scenario] = SCENARIOS,
    end: datetime | None = None,
    span: timedelta = DEFAULT_SPAN,
) -> Iterator[dict[str, Any]]:
    """Return an iterator of `count` Sentry event payloads captured by the sentry-sdk.

    Timestamps rise over the `span` that ends at `end` (default: now, UTC).
    Event ids derive from `seed`, so two runs with the same seed yield the
    same ids and groups. Each event is tagged with its scenario name.
    Raises `ValueError` at the call, before any event is generated, for a
    negative count, an empty scenario list or a naive `end`.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if not scenarios:
        raise ValueError("no scenarios to choose from")
    end = end or datetime.now(UTC)
    if end.tzinfo is None:
        raise ValueError(f"end must be timezone-aware, got {end.isoformat()}")
    return _capture_events(count, seed, scenarios, end, span)


def _capture_events(
    count: int,
    seed: int,
    scenarios: Sequence[Scenario],
    end: datetime,
    span: timedelta,
) -> Iterator[dict[str, Any]]:
    if count == 0:
        return
    rng = random.Random(seed)
    plan = plan_scenarios(count, scenarios, rng)
    times = event_times(count, end, span, rng)
    with SdkCapture() as capture:
        for scenario, timestamp in zip(plan, times, strict=True):
            error = run_scenario(scenario, rng)
            envelope = capture.capture(
                error,
                event_id=uuid.UUID(int=rng.getrandbits(128), version=4).hex,
                timestamp=timestamp,
                tags={"scenario": scenario.name},
                transaction=f"{scenario.method} {scenario.path}",
            )
            yield event_payload(envelope)


def envelope_bytes(event: dict[str, Any], *, sent_at: datetime | None = None) -> bytes:
    """Serialise one event as a Sentry envelope with the SDK's own encoder."""
    sent = (sent_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    envelope = Envelope(headers={"event_id": event.get("event_id"), "sent_at": sent})
    envelope.add_event(cast("Event", event))
    return envelope.serialize()


def write_envelopes(
    events_or_count: Iterable[dict[str, Any]] | int,
    directory: str | Path,
    *,
    seed: int = 0,
) -> list[Path]:
    """Write one envelope file per event, `<event_id>.envelope`, into `directory`.

    An int generates that many events with `seed`. Creates the directory if
    missing and overwrites files of the same name. Returns the paths in
    event order.
    """
    events = (
        generate_events(events_or_count, seed=seed)
        if isinstance(events_or_count, int)
        else events_or_count
    )
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for event in events:
        path = target / f"{event['event_id']}.envelope"
        path.write_bytes(envelope_bytes(event))
        paths.append(path)
    return paths


def write_json(events: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Write the events as one JSON list to `path`; return how many."""
    collected = list(events)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(collected), encoding="utf-8")
    return len(collected)
