"""Sentry-compatible grouping hashes (config ``newstyle:2023-01-11``).

The consumer and the ingest command use only the names in ``__all__``:
normalise a raw event with `normalize_event`, then `calculate_grouping`
returns its variants, hashes and component trees; `get_stacktrace_string`
turns the component tree into the text Seer embeds. `seer_inputs` computes
the hash, string and filters that a Seer record needs in one faster call.
"""

from consumers.grouping.api import GroupingResult, calculate_grouping
from consumers.grouping.enhancements import Enhancements, load_enhancements
from consumers.grouping.errors import GroupingError
from consumers.grouping.event_info import get_exception_type, has_stacktrace
from consumers.grouping.frames import (
    count_contributing_frames,
    has_too_many_contributing_frames,
)
from consumers.grouping.normalize import normalize_event
from consumers.grouping.seer import SeerInputs, seer_inputs
from consumers.grouping.stacktrace_string import get_stacktrace_string
from consumers.grouping.variants import GroupingVariant

__all__ = [
    "Enhancements",
    "GroupingError",
    "GroupingResult",
    "GroupingVariant",
    "SeerInputs",
    "calculate_grouping",
    "count_contributing_frames",
    "get_exception_type",
    "get_stacktrace_string",
    "has_stacktrace",
    "has_too_many_contributing_frames",
    "load_enhancements",
    "normalize_event",
    "seer_inputs",
]
