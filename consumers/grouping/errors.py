"""The one error the grouping package raises for a bad event."""

from __future__ import annotations


class GroupingError(Exception):
    """Grouping failed for one event; the message names the step and the cause.

    Raised by the normaliser, the enhancement engine or a strategy. Other
    events are unaffected, so callers skip the event and continue.
    """
