"""The outcome of an ingest run, for people (text) and scripts (JSON)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from consumers.ingest.prepare import InvalidEvent


@dataclass
class IngestReport:
    """Counts of one ingest run.

    `events_read` counts event candidates, valid and invalid.
    `events_skipped` counts valid events already stored or repeated in the
    input. `groups_updated` counts groups that existed before the run and
    received new events. `ignored_items` counts envelope items that are not
    events, by item type. `invalid` lists every rejected file or event.
    """

    files: int = 0
    events_read: int = 0
    events_loaded: int = 0
    events_skipped: int = 0
    groups_created: int = 0
    groups_updated: int = 0
    ignored_items: Counter[str] = field(default_factory=Counter)
    invalid: list[InvalidEvent] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.invalid

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "events_read": self.events_read,
            "events_loaded": self.events_loaded,
            "events_skipped": self.events_skipped,
            "events_invalid": len(self.invalid),
            "groups_created": self.groups_created,
            "groups_updated": self.groups_updated,
            "ignored_items": dict(sorted(self.ignored_items.items())),
            "invalid": [
                {"source": item.source, "index": item.index, "reason": item.reason}
                for item in self.invalid
            ],
        }

    def to_text(self) -> str:
        lines = [
            f"files: {self.files}",
            f"events: {self.events_read} read, {self.events_loaded} loaded, "
            f"{self.events_skipped} already stored or repeated, "
            f"{len(self.invalid)} invalid",
            f"groups: {self.groups_created} created, {self.groups_updated} updated",
        ]
        if self.ignored_items:
            counts = ", ".join(
                f"{kind}={n}" for kind, n in sorted(self.ignored_items.items())
            )
            lines.append(f"ignored envelope items: {counts}")
        if self.invalid:
            lines.append("invalid:")
            lines += [f"  {item.location()}: {item.reason}" for item in self.invalid]
        return "\n".join(lines)
