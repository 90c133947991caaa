"""Broker queries shared by the operations commands.

Each helper performs one request and returns typed values. Every helper
raises `KafkaAdminError` naming the topic, partition or group when the
broker returns an error or does not respond within `timeout` seconds. None
of them change anything except `alter_committed_offsets`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from confluent_kafka import (
    OFFSET_INVALID,
    Consumer,
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

DEFAULT_TIMEOUT = 10.0


class KafkaAdminError(RuntimeError):
    """A broker request failed; the message names the request and its target."""


class UnknownPartitionError(KafkaAdminError):
    """Requested partitions that the topic does not have."""


def error_text(error: Exception, timeout: float) -> str:
    """Return the reason of a failed admin request, for an error message.

    A `KafkaException` gives its error's text without the `KafkaError{...}`
    wrapper, and a future's `TimeoutError`, which has no message of its
    own, gives the timeout.
    """
    if isinstance(error, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(error, KafkaException) and error.args:
        cause = error.args[0]
        if isinstance(cause, KafkaError):
            return str(cause.str())
    return str(error)


@dataclass(frozen=True)
class Watermarks:
    """The first offset still stored (`low`) and the next offset to be written."""

    low: int
    high: int


class GroupState(enum.Enum):
    """Consumer group state, as in Kafka's `DescribeGroups` response."""

    UNKNOWN = "Unknown"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"
    EMPTY = "Empty"


_STATES: Mapping[ConsumerGroupState, GroupState] = {
    ConsumerGroupState.UNKNOWN: GroupState.UNKNOWN,
    ConsumerGroupState.PREPARING_REBALANCING: GroupState.PREPARING_REBALANCE,
    ConsumerGroupState.COMPLETING_REBALANCING: GroupState.COMPLETING_REBALANCE,
    ConsumerGroupState.STABLE: GroupState.STABLE,
    ConsumerGroupState.DEAD: GroupState.DEAD,
    ConsumerGroupState.EMPTY: GroupState.EMPTY,
}


@dataclass(frozen=True)
class GroupMember:
    """One member of a consumer group and the partitions of one topic it owns."""

    member_id: str
    client_id: str
    host: str
    partitions: tuple[int, ...]


@dataclass(frozen=True)
class GroupDescription:
    """A consumer group's state and members.

    Some brokers (tansu 0.6) report no members at all, so callers that need
    to know whether consumers are running must also look at `state`.
    """

    group_id: str
    state: GroupState
    members: tuple[GroupMember, ...]

    @property
    def is_inactive(self) -> bool:
        """True when no consumer belongs to the group, as Kafka's tools decide it."""
        return self.state in (GroupState.EMPTY, GroupState.DEAD) and not self.members

    def owner_of(self, partition: int) -> GroupMember | None:
        for member in self.members:
            if partition in member.partitions:
                return member
        return None


def topic_partitions(
    admin: AdminClient,
    topic: str,
    timeout: float = DEFAULT_TIMEOUT,
    flag: str = "--topic",
) -> list[int]:
    """Return the partition ids of `topic`, ascending.

    Raises `KafkaAdminError` when the topic does not exist, naming `flag`,
    the command-line option that named the topic.
    """
    try:
        # A metadata request naming the topic would create it on brokers with
        # auto.create.topics.enable, because the admin client allows that.
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as e:
        raise KafkaAdminError(
            f"metadata request for topic {topic!r} failed: {error_text(e, timeout)}"
        ) from e
    found = metadata.topics.get(topic)
    if found is None or found.error is not None or not found.partitions:
        reason = found.error if found is not None and found.error else "no partitions"
        raise KafkaAdminError(
            f"topic {topic!r} not found ({reason}); create it with "
            f"`seer-backfill topics create` or check {flag}"
        )
    return sorted(found.partitions)


def select_partitions(
    available: Iterable[int], requested: Iterable[int] | None
) -> list[int]:
    """Return the requested partitions, or all.

    Raises `UnknownPartitionError` for an id the topic lacks.
    """
    available_sorted = sorted(available)
    if requested is None:
        return available_sorted
    chosen = sorted(set(requested))
    missing = [p for p in chosen if p not in available_sorted]
    if missing:
        raise UnknownPartitionError(
            f"partitions {missing} do not exist; the topic has partitions "
            f"0..{len(available_sorted) - 1}"
        )
    return chosen


def watermarks(
    consumer: Consumer,
    topic: str,
    partitions: Iterable[int],
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[int, Watermarks]:
    """Low and high watermarks of each partition, queried from the leader now.

    NOTE: tansu 0.6 reports the high watermark as the base offset of the
    last record batch + 1, which is too low when that batch contains several
    records. Apache Kafka reports the offset after the last record.
    """
    result: dict[int, Watermarks] = {}
    for partition in partitions:
        try:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=timeout, cached=False
            )
        except KafkaException as e:
            raise KafkaAdminError(
                f"watermark request for {topic}[{partition}] failed: {e}"
            ) from e
        result[partition] = Watermarks(low=low, high=high)
    return result


def committed_offsets(
    admin: AdminClient,
    group_id: str,
    topic: str,
    partitions: Iterable[int],
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[int, int | None]:
    """Return the group's committed offset per partition, None where it has none."""
    request = ConsumerGroupTopicPartitions(
        group_id, [TopicPartition(topic, p) for p in partitions]
    )
    futures = admin.list_consumer_group_offsets([request], request_timeout=timeout)
    try:
        response = futures[group_id].result(timeout=timeout)
    except (KafkaException, TimeoutError) as e:
        raise KafkaAdminError(
            f"fetching committed offsets of group {group_id!r} on topic {topic!r} "
            f"failed: {error_text(e, timeout)}"
        ) from e
    offsets: dict[int, int | None] = {}
    for tp in response.topic_partitions:
        if tp.error is not None:
            raise KafkaAdminError(
                f"committed offset of group {group_id!r} on {topic}[{tp.partition}]: "
                f"{tp.error}"
            )
        offsets[tp.partition] = None if tp.offset == OFFSET_INVALID else tp.offset
    return offsets


def alter_committed_offsets(
    admin: AdminClient,
    group_id: str,
    topic: str,
    offsets: Mapping[int, int],
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """Commit `offsets` for the group. Kafka rejects this while the group is active."""
    request = ConsumerGroupTopicPartitions(
        group_id, [TopicPartition(topic, p, o) for p, o in sorted(offsets.items())]
    )
    futures = admin.alter_consumer_group_offsets([request], request_timeout=timeout)
    try:
        response = futures[group_id].result(timeout=timeout)
    except (KafkaException, TimeoutError) as e:
        raise KafkaAdminError(
            f"altering offsets of group {group_id!r} on topic {topic!r} failed: "
            f"{error_text(e, timeout)}"
        ) from e
    errors = [tp for tp in response.topic_partitions if tp.error is not None]
    if errors:
        detail = ", ".join(f"[{tp.partition}] {tp.error}" for tp in errors)
        raise KafkaAdminError(
            f"altering offsets of group {group_id!r} on topic {topic!r} failed: "
            + detail
        )


def describe_group(
    admin: AdminClient, group_id: str, topic: str, timeout: float = DEFAULT_TIMEOUT
) -> GroupDescription:
    """State and members of a group, with each member's partitions of `topic`."""
    futures = admin.describe_consumer_groups([group_id], request_timeout=timeout)
    try:
        raw = futures[group_id].result(timeout=timeout)
    except (KafkaException, TimeoutError) as e:
        raise KafkaAdminError(
            f"describing group {group_id!r} failed: {error_text(e, timeout)}"
        ) from e
    members: list[GroupMember] = []
    for member in raw.members:
        assignment = member.assignment.topic_partitions if member.assignment else []
        members.append(
            GroupMember(
                member_id=member.member_id,
                client_id=member.client_id,
                host=member.host,
                partitions=tuple(
                    sorted(tp.partition for tp in assignment if tp.topic == topic)
                ),
            )
        )
    return GroupDescription(
        group_id=group_id,
        state=_STATES.get(raw.state, GroupState.UNKNOWN),
        members=tuple(members),
    )


def offsets_for_timestamp(
    consumer: Consumer,
    topic: str,
    partitions: Iterable[int],
    timestamp_ms: int,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[int, int | None]:
    """Per partition, the first offset whose record timestamp is >= `timestamp_ms`.

    None means no such record: the timestamp is after the newest record.

    NOTE: tansu 0.6 ignores record timestamps here and returns 0 for a
    timestamp after the newest record, so results from it are wrong.
    """
    request = [TopicPartition(topic, p, timestamp_ms) for p in partitions]
    try:
        response = consumer.offsets_for_times(request, timeout=timeout)
    except KafkaException as e:
        raise KafkaAdminError(
            f"offset lookup by timestamp {timestamp_ms} on topic {topic!r} failed: {e}"
        ) from e
    result: dict[int, int | None] = {}
    for tp in response:
        if tp.error is not None:
            raise KafkaAdminError(
                f"offset lookup by timestamp on {topic}[{tp.partition}]: {tp.error}"
            )
        result[tp.partition] = tp.offset if tp.offset >= 0 else None
    return result
