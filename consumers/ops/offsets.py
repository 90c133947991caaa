"""Reset a consumer group's committed offsets.

The command mirrors `kafka-consumer-groups --reset-offsets`.

The target computation (`plan_reset`) is pure: it takes the partitions'
watermarks, committed offsets and, for timestamp targets, the broker's
offset-by-timestamp results. `reset_offsets` queries those, refuses to
write while the group has consumers, writes, and reads the offsets back.

Targets follow Kafka's tool:
- earliest / latest: the low / high watermark;
- to-offset N, shift-by N: clamped into [low, high];
- to-datetime, by-duration: the first record at or after the time, or the
  high watermark when no record is that new.
A shift needs a committed offset: a partition without one is an error.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from consumers.kafka.admin import (
    GroupDescription,
    alter_committed_offsets,
    committed_offsets,
    describe_group,
    offsets_for_timestamp,
    select_partitions,
    topic_partitions,
    watermarks,
)
from consumers.kafka.config import KafkaOptions, admin_config, reader_config

logger = logging.getLogger(__name__)


class ResetError(ValueError):
    """A reset that cannot be planned or applied; the message names the cause."""


class GroupActiveError(ResetError):
    """The group has consumers, so its offsets must not be changed."""


class NewGroupError(ResetError):
    """A group without a committed offset on the topic. A reset would
    create its offsets there, so a misspelled group name would go unnoticed."""


@dataclass(frozen=True)
class ToEarliest:
    pass


@dataclass(frozen=True)
class ToLatest:
    pass


@dataclass(frozen=True)
class ToOffset:
    offset: int


@dataclass(frozen=True)
class ShiftBy:
    delta: int


@dataclass(frozen=True)
class ToTimestamp:
    """A point in time, in milliseconds since the epoch."""

    timestamp_ms: int


ResetTarget = ToEarliest | ToLatest | ToOffset | ShiftBy | ToTimestamp


@dataclass(frozen=True)
class PartitionOffsets:
    """Offsets the broker reports for one partition before the reset."""

    partition: int
    low: int
    high: int
    committed: int | None


@dataclass(frozen=True)
class PlannedReset:
    partition: int
    before: int | None
    after: int
    clamped: bool = False

    @property
    def delta(self) -> int | None:
        return None if self.before is None else self.after - self.before


def clamp(offset: int, low: int, high: int) -> tuple[int, bool]:
    """`offset` limited to [low, high], and whether it had to be moved."""
    if offset < low:
        return low, True
    if offset > high:
        return high, True
    return offset, False


def plan_reset(
    target: ResetTarget,
    partitions: Sequence[PartitionOffsets],
    timestamp_offsets: Mapping[int, int | None] | None = None,
) -> list[PlannedReset]:
    """Compute the new offset of every partition.

    `timestamp_offsets` is required for `ToTimestamp`: the broker's first
    offset at or after the timestamp, None where no record is that new.
    Raises `ResetError` for a shift of a partition without committed offset
    and for a missing timestamp result.
    """
    plan: list[PlannedReset] = []
    for p in partitions:
        requested = _requested_offset(target, p, timestamp_offsets)
        after, clamped = clamp(requested, p.low, p.high)
        plan.append(PlannedReset(p.partition, p.committed, after, clamped))
    return plan


def _requested_offset(
    target: ResetTarget,
    p: PartitionOffsets,
    timestamp_offsets: Mapping[int, int | None] | None,
) -> int:
    match target:
        case ToEarliest():
            return p.low
        case ToLatest():
            return p.high
        case ToOffset(offset=offset):
            return offset
        case ShiftBy(delta=delta):
            if p.committed is None:
                raise ResetError(
                    f"cannot shift partition {p.partition}: the group has no "
                    "committed offset there; use --to-offset or --to-earliest"
                )
            return p.committed + delta
        case ToTimestamp():
            if timestamp_offsets is None or p.partition not in timestamp_offsets:
                raise ResetError(
                    f"no offset-by-timestamp answer for partition {p.partition}"
                )
            found = timestamp_offsets[p.partition]
            return p.high if found is None else found


def ensure_group_inactive(description: GroupDescription) -> None:
    """Raise `GroupActiveError` unless the group is Empty or Dead with no members.

    Kafka's tool applies the same rule. The state matters on its own because
    some brokers (tansu 0.6) never list members but do report `Stable`.
    """
    if description.is_inactive:
        return
    members = len(description.members)
    raise GroupActiveError(
        f"group {description.group_id!r} is active (state {description.state.value}, "
        f"{members} members reported); stop its consumers and retry"
    )


_DURATION = re.compile(
    r"^(?P<sign>[-+]?)P"
    r"(?:(?P<weeks>\d+)W)?"
    r"(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?"
    r"(?:(?P<seconds>\d+)(?:[.,](?P<fraction>\d{1,9}))?S)?)?$",
    re.IGNORECASE,
)


def parse_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration such as `PT1H30M`, `P1D` or `P2DT12H`.

    This is the format of Kafka's `--by-duration` (Java's `Duration`), plus
    weeks. Years and months are rejected because their length varies.
    Raises `ResetError` for anything else and for negative durations.
    """
    stripped = text.strip()
    match = _DURATION.match(stripped)
    units = ("weeks", "days", "hours", "minutes", "seconds")
    # The pattern also matches "P", "PT" and "P1DT", which Java rejects.
    if (
        match is None
        or not any(match.group(unit) for unit in units)
        or stripped.upper().endswith("T")
    ):
        hint = ""
        if re.search(r"\d+Y", stripped, re.IGNORECASE) or re.match(
            r"^[-+]?P[^T]*\d+M", stripped, re.IGNORECASE
        ):
            hint = " (years and months have no fixed length; use days)"
        raise ResetError(
            f"invalid duration {text!r}{hint}: expected ISO 8601 such as PT1H, "
            "PT30M, P1D or P1DT6H"
        )
    parts = {unit: int(match.group(unit) or 0) for unit in units}
    fraction = match.group("fraction") or "0"
    duration = timedelta(microseconds=int(fraction.ljust(6, "0")[:6]), **parts)
    if match.group("sign") == "-" and duration:
        raise ResetError(f"invalid duration {text!r}: it must not be negative")
    return duration


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 date-time with a time zone, such as `2025-01-31T12:00:00Z`.

    Raises `ResetError` when the text is not ISO 8601 or has no zone, because
    a time without zone would depend on the machine running the command.
    """
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError as e:
        raise ResetError(
            f"invalid date-time {text!r}: expected ISO 8601 such as "
            "2025-01-31T12:00:00Z or 2025-01-31T13:00:00+01:00"
        ) from e
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ResetError(
            f"date-time {text!r} has no time zone; append Z for UTC or an offset "
            "such as +01:00"
        )
    return parsed


def timestamp_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def duration_target(duration: timedelta, now: float | None = None) -> ToTimestamp:
    """Return the point `duration` before `now` (epoch seconds, default the clock)."""
    current = time.time() if now is None else now
    return ToTimestamp(int((current - duration.total_seconds()) * 1000))


@dataclass
class ResetReport:
    """The outcome of `reset_offsets`.

    `mismatches` maps a partition to (expected offset, offset read back).
    """

    group: str
    topic: str
    plan: list[PlannedReset]
    group_state: str
    executed: bool = False
    mismatches: dict[int, tuple[int, int | None]] = field(default_factory=dict)
    # Why `--execute` would be rejected; set on dry runs of an active group.
    blocked_by: str | None = None

    @property
    def verified(self) -> bool:
        return self.executed and not self.mismatches


def reset_offsets(
    bootstrap_servers: str,
    group: str,
    topic: str,
    target: ResetTarget,
    *,
    partitions: Sequence[int] | None = None,
    execute: bool = False,
    allow_new_group: bool = False,
    options: KafkaOptions | None = None,
) -> ResetReport:
    """Plan the reset, and with `execute` apply it and read it back.

    Raises `GroupActiveError` when `execute` is set and the group has
    consumers, `NewGroupError` when `execute` is set, the group has no
    committed offset on the chosen partitions of the topic and
    `allow_new_group` is not, `ResetError` when the target cannot be
    computed, and
    `KafkaAdminError` for broker failures. Safe to repeat: a second run with
    the same absolute target writes the same offsets.
    """
    kafka_options = options or KafkaOptions()
    admin = AdminClient(admin_config(bootstrap_servers, kafka_options))
    reader = Consumer(reader_config(bootstrap_servers, kafka_options))
    try:
        chosen = select_partitions(topic_partitions(admin, topic), partitions)
        description = describe_group(admin, group, topic)
        blocked_by: str | None = None
        try:
            ensure_group_inactive(description)
        except GroupActiveError as e:
            if execute:
                raise
            blocked_by = str(e)

        marks = watermarks(reader, topic, chosen)
        committed = committed_offsets(admin, group, topic, chosen)
        if not allow_new_group and all(o is None for o in committed.values()):
            new_group = NewGroupError(
                f"group {group!r} has no committed offset on topic {topic!r}, "
                "so --execute would create them; check the group name, or pass "
                "--allow-new-group to start a new group at these offsets"
            )
            if execute:
                raise new_group
            blocked_by = blocked_by or str(new_group)
        current = [
            PartitionOffsets(p, marks[p].low, marks[p].high, committed.get(p))
            for p in chosen
        ]
        by_time = None
        if isinstance(target, ToTimestamp):
            by_time = offsets_for_timestamp(reader, topic, chosen, target.timestamp_ms)
        plan = plan_reset(target, current, by_time)
        report = ResetReport(
            group, topic, plan, description.state.value, blocked_by=blocked_by
        )
        if not execute:
            return report

        new_offsets = {p.partition: p.after for p in plan}
        alter_committed_offsets(admin, group, topic, new_offsets)
        report.executed = True
        logger.info(
            "reset offsets of group %s on topic %s: %s", group, topic, new_offsets
        )
        read_back = committed_offsets(admin, group, topic, chosen)
        for partition, expected in new_offsets.items():
            if read_back.get(partition) != expected:
                report.mismatches[partition] = (expected, read_back.get(partition))
        if report.mismatches:
            logger.error(
                "offsets of group %s on topic %s differ after the reset: %s",
                group,
                topic,
                report.mismatches,
            )
        return report
    finally:
        # Polling hands the admin client's queued log lines to the logger,
        # and closing the consumer does the same for the consumer's lines.
        admin.poll(0)
        reader.close()
