"""Status of a consumer group from repeated lag samples, after Burrow's rules.

Burrow (LinkedIn's lag monitor) judges each partition over a window of
offset commits, and it receives every commit with its time. We sample the
committed offset instead, and use the group state in place of commit times.
The rules, applied in order to one partition's window (oldest sample first):

0. Rewind: if the committed offset went down between two samples (an offset
   reset), only the samples from that point on are evaluated.
1. OK when the lag is 0 in any sample of the window.
2. STOP when the newest sample shows a group without running consumers
   (state Empty or Dead): work is waiting and no consumer will commit.
3. STALL when the window has at least 2 samples and the committed offset
   is the same in all of them: consumers run but do not progress.
4. WARN when the window has at least 2 samples, the offset moved, and the
   lag never went down from one sample to the next: consumers progress but
   fall behind.
5. OK otherwise.

A single sample can only give OK or STOP. A group state of Unknown counts
as running. The group's status is the worst status of its partitions, in
the order OK < WARN < STALL < STOP.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from consumers.ops.lag import LagSnapshot


class Status(enum.IntEnum):
    """Partition or group status; a higher value is worse."""

    OK = 0
    WARN = 1
    STALL = 2
    STOP = 3


@dataclass(frozen=True)
class Observation:
    """One sample of one partition."""

    committed: int | None
    lag: int
    # False when no consumer runs, None when the broker reported state Unknown.
    group_active: bool | None


def _since_last_rewind(window: Sequence[Observation]) -> Sequence[Observation]:
    start = 0
    for i in range(1, len(window)):
        before, after = window[i - 1].committed, window[i].committed
        if before is not None and after is not None and after < before:
            start = i
    return window[start:]


def evaluate_partition(window: Sequence[Observation]) -> Status:
    """Apply the module's rules to one partition's samples, oldest first."""
    if not window:
        raise ValueError("a status needs at least one sample")
    samples = _since_last_rewind(window)
    if any(s.lag == 0 for s in samples):
        return Status.OK
    if samples[-1].group_active is False:
        return Status.STOP
    if len(samples) < 2:
        return Status.OK
    if all(s.committed == samples[0].committed for s in samples):
        return Status.STALL
    pairs = itertools.pairwise(samples)
    if all(later.lag >= earlier.lag for earlier, later in pairs):
        return Status.WARN
    return Status.OK


def partition_windows(snapshots: Iterable[LagSnapshot]) -> dict[int, list[Observation]]:
    """Per partition, its observations in the order of the snapshots."""
    windows: dict[int, list[Observation]] = {}
    for snapshot in snapshots:
        active = snapshot.group_active
        for p in snapshot.partitions:
            windows.setdefault(p.partition, []).append(
                Observation(committed=p.committed, lag=p.lag, group_active=active)
            )
    return windows


def evaluate_group(
    windows: Mapping[int, Sequence[Observation]],
) -> tuple[Status, dict[int, Status]]:
    """Return the group's status and each partition's (OK when there are none)."""
    statuses = {p: evaluate_partition(w) for p, w in sorted(windows.items())}
    worst = max(statuses.values(), default=Status.OK)
    return worst, statuses
