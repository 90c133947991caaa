"""Typed payloads passed between the stages of the strategy chain.

Every payload is a frozen dataclass of plain values, so the hashing stage can
pickle it into worker processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from consumers.messages import ProjectBatch


@dataclass(frozen=True)
class Coordinates:
    """Topic, partition, offset and timestamp of a message, for logs, DLQ headers
    and ledger claims."""

    topic: str
    partition: int
    offset: int
    timestamp: datetime

    @property
    def owner(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


@dataclass(frozen=True)
class DecodedBatch:
    batch: ProjectBatch
    source: Coordinates

    def log_ids(self) -> str:
        """Return the ids that every log line about this message carries."""
        return (
            f"run={self.batch.run_id} project={self.batch.project_id} "
            f"cursor={self.batch.cursor} partition={self.source.partition} "
            f"offset={self.source.offset}"
        )


class Action(Enum):
    """The rest of the chain's treatment of a looked-up batch."""

    BACKFILL = "backfill"  # send the events to Seer, then go onward
    DELETE = "delete"  # delete the project's Seer records, then go onward
    FORWARD = "forward"  # nothing to send to Seer; the chain only moves on
    DUPLICATE = "duplicate"  # another copy of this batch did or does the work


@dataclass(frozen=True)
class Project:
    id: int
    organization_id: int
    platform: str | None


@dataclass(frozen=True)
class GroupEvent:
    """The latest event of one eligible group, with its compressed payload."""

    group_id: int
    event_id: str
    payload: bytes


@dataclass(frozen=True)
class SeerRecord:
    """One grouping record for Seer, built by the hashing stage."""

    group_id: int
    hash: str
    exception_type: str | None
    stacktrace: str


@dataclass(frozen=True)
class BatchPlan:
    """Output of the lookup stage: what to do with one project-batch message.

    `next_batch` is the message that continues the chain (None ends it);
    the lookup stage produces it and stores where it landed in
    `next_batch_position` (partition, offset). `chain_ended` is set on the
    last batch of a split chain. `complete_project` makes the onward stage
    set the project's backfill-completed option; for a split chain, once
    the last of the project's chains has ended. `filtered` counts groups
    skipped per reason.
    """

    source: DecodedBatch
    action: Action
    project: Project | None = None
    events: tuple[GroupEvent, ...] = ()
    filtered: Mapping[str, int] = field(default_factory=dict)
    next_batch: ProjectBatch | None = None
    next_batch_position: tuple[int, int] | None = None
    chain_ended: bool = False
    complete_project: bool = False
    note: str = ""
    # (accepted, filtered) that an earlier attempt of this batch saved with
    # its marks; the batch then skips hashing and Seer and reports these.
    resumed: tuple[int, Mapping[str, int]] | None = None


@dataclass(frozen=True)
class HashedBatch:
    """Output of the hashing stage."""

    plan: BatchPlan
    records: tuple[SeerRecord, ...]
    filtered: Mapping[str, int]


@dataclass(frozen=True)
class BatchResult:
    """Output of the Seer stage: what the onward stage produces and records."""

    plan: BatchPlan
    accepted: int
    filtered: Mapping[str, int]
    marked_group_ids: tuple[int, ...] = ()


def merge_counts(*counts: Mapping[str, int]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for mapping in counts:
        for reason, count in mapping.items():
            if count:
                merged[reason] = merged.get(reason, 0) + count
    return merged
