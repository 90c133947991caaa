"""Real Sentry events for tests, demos and benchmarks.

`generate_events` runs scenarios of a small sample application under the real
sentry-sdk and yields the events it captured. `write_envelopes` stores them as
Sentry envelope files. `vary_event` derives many distinct issues from one
captured event without running the SDK again.
"""

from consumers.samples.generate import (
    envelope_bytes,
    generate_events,
    plan_scenarios,
    write_envelopes,
    write_json,
)
from consumers.samples.scenarios import (
    SCENARIOS,
    Scenario,
    scenario_names,
    select_scenarios,
)
from consumers.samples.vary import vary_event

__all__ = [
    "SCENARIOS",
    "Scenario",
    "envelope_bytes",
    "generate_events",
    "plan_scenarios",
    "scenario_names",
    "select_scenarios",
    "vary_event",
    "write_envelopes",
    "write_json",
]
