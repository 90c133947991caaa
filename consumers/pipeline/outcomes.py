"""Billing outcomes in Sentry's outcomes v1 JSON format."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

OUTCOME_ACCEPTED = 0
OUTCOME_FILTERED = 1
DATA_CATEGORY_ERROR = 1


@dataclass(frozen=True)
class Outcome:
    """One outcome message and the key that lets consumers drop duplicates."""

    key: bytes
    value: bytes


def _format_timestamp(timestamp: datetime) -> str:
    utc = timestamp.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def build_outcomes(
    *,
    batch_key: str,
    timestamp: datetime,
    org_id: int,
    project_id: int,
    accepted: int,
    filtered: Mapping[str, int],
) -> list[Outcome]:
    """One accepted outcome (when Seer accepted records) and one filtered
    outcome per skip reason.

    The content depends only on the batch and the input message's timestamp,
    and the key is `<batch key>:<outcome>:<reason>`, so a batch produced twice
    after a crash yields identical messages that a consumer can deduplicate.
    """
    entries: list[tuple[int, str | None, int]] = []
    if accepted:
        entries.append((OUTCOME_ACCEPTED, None, accepted))
    for reason in sorted(filtered):
        if filtered[reason]:
            entries.append((OUTCOME_FILTERED, reason, filtered[reason]))
    outcomes = []
    for outcome, outcome_reason, quantity in entries:
        body = {
            "timestamp": _format_timestamp(timestamp),
            "org_id": org_id,
            "project_id": project_id,
            "key_id": None,
            "outcome": outcome,
            "reason": outcome_reason,
            "event_id": None,
            "category": DATA_CATEGORY_ERROR,
            "quantity": quantity,
        }
        key = f"{batch_key}:{outcome}:{outcome_reason or ''}".encode()
        outcomes.append(Outcome(key=key, value=json.dumps(body).encode()))
    return outcomes
