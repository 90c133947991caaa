"""What Seer needs from one event, computed in one call.

`seer_inputs` returns the same primary hash, frame-count flag and stacktrace
string as `calculate_grouping` followed by `has_too_many_contributing_frames`
and `get_stacktrace_string` on its grouping info, but faster: it skips the
strategies after the winning one, the frame hints and, when the app variant
decides the hash, the system variant. It reads the component trees without
building the grouping-info dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from consumers.grouping.api import compute_variants, ordered_hashes
from consumers.grouping.enhancements import Enhancements, load_enhancements
from consumers.grouping.event_info import get_exception_type
from consumers.grouping.frames import has_too_many_contributing_frames
from consumers.grouping.stacktrace_string import get_stacktrace_string


@dataclass(frozen=True, slots=True)
class SeerInputs:
    """The grouping facts of one event that a Seer record is built from.

    ``stacktrace`` is "" when there is nothing to describe, and also when
    ``too_many_frames`` is set, because such an event is skipped and its
    string is not built.
    """

    primary_hash: str | None
    stacktrace: str
    too_many_frames: bool
    exception_type: str | None


def seer_inputs(
    event: Mapping[str, Any], *, enhancements: Enhancements | None = None
) -> SeerInputs:
    """Compute the primary hash, Seer stacktrace string and filters of an event.

    ``event`` is a normalised event, which is not modified; ``enhancements``
    defaults to the project's rules file. No project fingerprint rules apply
    (the built-in ones and the event's own fingerprint do). Raises
    GroupingError when the rules engine rejects a frame or the event's shape
    breaks a strategy.
    """
    if enhancements is None:
        enhancements = load_enhancements()
    variants = compute_variants(
        event,
        enhancements,
        (),
        include_overruled=False,
        hints=False,
        system_if_needed=True,
    )
    hashes = ordered_hashes(variants)
    # The few keys that the frame count and the string read, in Sentry's
    # grouping-info shape, so both use the same code as for full results.
    info = {
        name: {
            "hash": variant.hash,
            "contributes": variant.contributes,
            "component": variant.component,
        }
        for name, variant in variants.items()
    }
    too_many = has_too_many_contributing_frames(event, info)
    stacktrace = "" if too_many else get_stacktrace_string(info)
    return SeerInputs(
        primary_hash=hashes[0] if hashes else None,
        stacktrace=stacktrace,
        too_many_frames=too_many,
        exception_type=get_exception_type(event),
    )
