"""Event normalisation with Sentry's own Rust normaliser (sentry-relay)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from sentry_relay.exceptions import RelayError
from sentry_relay.processing import StoreNormalizer

from consumers.grouping.errors import GroupingError


@functools.lru_cache(maxsize=64)
def _normalizer(project_id: int | None, remove_other: bool) -> Any:
    # The same options Sentry's event manager passes for a first normalisation.
    return StoreNormalizer(
        project_id=project_id,
        is_renormalize=False,
        remove_other=remove_other,
        normalize_user_agent=True,
    )


def normalize_event(
    data: Mapping[str, Any],
    *,
    project_id: int | None = None,
    keep_unknown_attributes: bool = False,
) -> dict[str, Any]:
    """Return the event as Sentry stores it after ingestion normalisation.

    Input: a raw event payload. Output: a new dict, and ``data`` is not changed.
    Unknown top-level attributes are dropped, as Sentry does, unless
    ``keep_unknown_attributes`` is set. Raises GroupingError when relay
    rejects the payload.
    """
    try:
        normalizer = _normalizer(project_id, not keep_unknown_attributes)
        result = normalizer.normalize_event(dict(data))
    except (RelayError, TypeError, ValueError) as error:
        event_id = data.get("event_id") if isinstance(data, Mapping) else None
        raise GroupingError(
            f"event {event_id or '<no id>'} rejected by the normaliser: {error}"
        ) from error
    if not isinstance(result, dict):
        raise GroupingError(
            f"normaliser returned {type(result).__name__}, not an event"
        )
    return result
