"""Consumer lag of a group on a topic, in messages and in seconds.

Per partition, in the columns of `kafka-consumer-groups --describe`:
- CURRENT-OFFSET: the group's committed offset (none before its first commit);
- LOG-END-OFFSET: the high watermark, the offset the next message will get;
- LAG: LOG-END-OFFSET minus the consumer's position, never negative. The
  position is the committed offset, or the low watermark when there is none,
  because the consumer starts at the earliest offset (`auto.offset.reset`
  earliest);
- LAG-SECONDS: now minus the broker timestamp of the message at the
  position, which is the oldest message not yet consumed; 0 when LAG is 0.

NOTE: on tansu 0.6 the high watermark is the base offset of the last record
batch + 1, so LAG is too low when producers batch several records.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient

from consumers.kafka.admin import (
    DEFAULT_TIMEOUT,
    GroupState,
    committed_offsets,
    describe_group,
    select_partitions,
    topic_partitions,
    watermarks,
)
from consumers.kafka.config import (
    KafkaOptions,
    admin_config,
    reader_config,
)

logger = logging.getLogger(__name__)

_ACTIVE_STATES = frozenset(
    {GroupState.STABLE, GroupState.PREPARING_REBALANCE, GroupState.COMPLETING_REBALANCE}
)


def consumer_position(committed: int | None, low: int) -> int:
    """Return where the consumer reads next: its commit, else the earliest offset."""
    return low if committed is None else committed


def message_lag(committed: int | None, low: int, high: int) -> int:
    """Messages between the consumer's position and the log end, at least 0.

    A position past `high` (possible on tansu, whose high watermark can be
    too low) yields 0, not a negative lag.
    """
    return max(0, high - consumer_position(committed, low))


def seconds_behind(now: float, next_timestamp_ms: int | None, lag: int) -> float | None:
    """Age in seconds of the oldest unconsumed message; None when unknown.

    0 when nothing is waiting. A timestamp in the future (clock skew between
    producer and this machine) counts as 0.
    """
    if lag == 0:
        return 0.0
    if next_timestamp_ms is None:
        return None
    return max(0.0, now - next_timestamp_ms / 1000)


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    committed: int | None
    low: int
    log_end: int
    lag: int
    lag_seconds: float | None
    consumer_id: str | None = None
    host: str | None = None
    client_id: str | None = None


@dataclass(frozen=True)
class LagSnapshot:
    """The lag of every selected partition at `taken_at` (seconds since the epoch)."""

    group: str
    topic: str
    taken_at: float
    group_state: GroupState
    partitions: tuple[PartitionLag, ...]

    @property
    def group_active(self) -> bool | None:
        """Whether consumers run: None when the broker reports state Unknown."""
        if self.group_state is GroupState.UNKNOWN:
            return None
        return self.group_state in _ACTIVE_STATES

    @property
    def total_lag(self) -> int:
        return sum(p.lag for p in self.partitions)


class LagReader:
    """Take lag snapshots of one group on one topic; reuse it across samples.

    It reads the next unconsumed message of each lagging partition with its
    own consumer, which uses `assign()` and never joins or commits for the
    group. Raises `KafkaAdminError` when the topic, a partition or the
    group cannot be queried. Each broker request waits at most
    `request_timeout` seconds, and librdkafka's lines go to `client_logger()`.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        group: str,
        topic: str,
        *,
        partitions: Sequence[int] | None = None,
        options: KafkaOptions | None = None,
        fetch_timeout: float = 5.0,
        request_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        kafka_options = options or KafkaOptions()
        self.group = group
        self.topic = topic
        self.fetch_timeout = fetch_timeout
        self.request_timeout = request_timeout
        self._admin = AdminClient(admin_config(bootstrap_servers, kafka_options))
        config = reader_config(bootstrap_servers, kafka_options)
        # One message per partition is needed, so keep librdkafka's
        # prefetch small unless the caller's options set these properties.
        for key, value in (("queued.min.messages", 1), ("fetch.max.bytes", 1048576)):
            if key not in kafka_options.for_client("consumer"):
                config[key] = value
        self._consumer = Consumer(config)
        self._requested = partitions

    def __enter__(self) -> LagReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the consumer after both clients hand over their queued log lines.

        confluent-kafka's admin client has no `close`. It is destroyed when
        the last reference to it goes, so drop the reader after closing it.
        """
        self._admin.poll(0)
        # Closing serves the consumer's queue, log lines included.
        self._consumer.close()

    def sample(self) -> LagSnapshot:
        """Query offsets, watermarks, members and next-message timestamps now."""
        try:
            return self._sample()
        finally:
            # Both clients queue their log lines until they are polled.
            # `_next_timestamps` assigns explicit offsets each time, so a
            # message that this poll might return is not missed later.
            self._admin.poll(0)
            self._consumer.poll(0)

    def _sample(self) -> LagSnapshot:
        timeout = self.request_timeout
        chosen = select_partitions(
            topic_partitions(self._admin, self.topic, timeout), self._requested
        )
        description = describe_group(self._admin, self.group, self.topic, timeout)
        # Committed offsets are read before the watermarks, so a commit in
        # between can only make the lag look larger, never negative.
        committed = committed_offsets(
            self._admin, self.group, self.topic, chosen, timeout
        )
        marks = watermarks(self._consumer, self.topic, chosen, timeout)

        lags = {
            p: message_lag(committed.get(p), marks[p].low, marks[p].high)
            for p in chosen
        }
        positions = {
            p: consumer_position(committed.get(p), marks[p].low)
            for p in chosen
            if lags[p]
        }
        timestamps = self._next_timestamps(positions)
        now = time.time()

        rows = []
        for p in chosen:
            owner = description.owner_of(p)
            rows.append(
                PartitionLag(
                    partition=p,
                    committed=committed.get(p),
                    low=marks[p].low,
                    log_end=marks[p].high,
                    lag=lags[p],
                    lag_seconds=seconds_behind(now, timestamps.get(p), lags[p]),
                    consumer_id=owner.member_id if owner else None,
                    host=owner.host if owner else None,
                    client_id=owner.client_id if owner else None,
                )
            )
        return LagSnapshot(self.group, self.topic, now, description.state, tuple(rows))

    def _next_timestamps(self, positions: dict[int, int]) -> dict[int, int | None]:
        """Broker timestamp (ms) of the message at each position; None if not read."""
        if not positions:
            return {}
        self._consumer.assign(
            [TopicPartition(self.topic, p, o) for p, o in positions.items()]
        )
        found: dict[int, int | None] = {}
        deadline = time.monotonic() + self.fetch_timeout
        try:
            while len(found) < len(positions) and time.monotonic() < deadline:
                message = self._consumer.poll(0.2)
                if message is None:
                    continue
                partition = message.partition() or 0
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        logger.warning(
                            "reading the next message of group %s on %s[%d] failed: %s",
                            self.group,
                            self.topic,
                            partition,
                            error,
                        )
                    found.setdefault(partition, None)
                    continue
                if partition in found:
                    continue
                kind, timestamp = message.timestamp()
                found[partition] = timestamp if kind != 0 and timestamp >= 0 else None
        finally:
            self._consumer.unassign()
        return found
