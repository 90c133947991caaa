"""Read the dead-letter topic, and re-produce its messages to their source.

A dead-lettered message is the raw invalid message with its original key
and these headers: `reason` (a stable code such as `invalid_msgpack`),
`reason_detail`, `original_topic`, `original_partition`, `original_offset`.

`DlqReader` assigns the partitions directly (no group membership) and stops
at the high watermark queried when it starts, so messages dead-lettered
while it runs are left for the next run. It commits offsets only for an
explicit `group`, and only what the caller hands to `commit`.

A replayed message has the same key and value, the headers it had before it
was dead-lettered, and `dlq_original_topic`, `dlq_original_partition`,
`dlq_original_offset`, `dlq_reason`, `dlq_partition` and `dlq_offset`.
Replaying twice produces the messages twice; the consumer's batch ledger
drops the duplicates of batches that completed.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from consumers.kafka.admin import (
    committed_offsets,
    select_partitions,
    topic_partitions,
    watermarks,
)
from consumers.kafka.config import (
    KafkaOptions,
    admin_config,
    producer_config,
    reader_config,
)
from consumers.kafka.produce import DeliveryResult, OutgoingMessage, produce_all

logger = logging.getLogger(__name__)

DLQ_HEADERS = frozenset(
    {
        "reason",
        "reason_detail",
        "original_topic",
        "original_partition",
        "original_offset",
    }
)


class DlqReadError(RuntimeError):
    """Reading the dead-letter topic failed or stalled."""


@dataclass(frozen=True)
class DlqRecord:
    """One message of the dead-letter topic."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", "replace")
        return None

    def _int_header(self, name: str) -> int | None:
        text = self.header(name)
        return int(text) if text is not None and text.strip().isdigit() else None

    @property
    def reason(self) -> str | None:
        return self.header("reason")

    @property
    def reason_detail(self) -> str | None:
        return self.header("reason_detail")

    @property
    def original_topic(self) -> str | None:
        return self.header("original_topic")

    @property
    def original_partition(self) -> int | None:
        return self._int_header("original_partition")

    @property
    def original_offset(self) -> int | None:
        return self._int_header("original_offset")

    @property
    def size(self) -> int:
        return len(self.value)


@dataclass(frozen=True)
class DlqFilter:
    """Selection of DLQ messages. Offsets are inclusive, and None means unbounded."""

    reasons: frozenset[str] = frozenset()
    partitions: tuple[int, ...] | None = None
    from_offset: int | None = None
    to_offset: int | None = None

    def matches(self, record: DlqRecord) -> bool:
        if self.reasons and record.reason not in self.reasons:
            return False
        if self.from_offset is not None and record.offset < self.from_offset:
            return False
        return self.to_offset is None or record.offset <= self.to_offset


def read_range(
    low: int, high: int, committed: int | None, selection: DlqFilter
) -> tuple[int, int]:
    """Return the offsets [start, end) to read from one partition."""
    start = max(low, selection.from_offset or 0, committed or 0)
    end = high if selection.to_offset is None else min(high, selection.to_offset + 1)
    return start, max(start, end)


def _header_bytes(value: str | bytes | None) -> bytes:
    if value is None:
        return b""
    return value.encode("utf-8") if isinstance(value, str) else value


def _record(message: Message) -> DlqRecord:
    timestamp_type, timestamp = message.timestamp()
    raw = message.headers() or []
    # confluent-kafka returns a list of pairs for consumed messages.
    pairs = raw.items() if isinstance(raw, dict) else raw
    headers = tuple((k, _header_bytes(v)) for k, v in pairs)
    return DlqRecord(
        topic=message.topic() or "",
        partition=message.partition() or 0,
        offset=message.offset() or 0,
        timestamp_ms=timestamp if timestamp_type != 0 and timestamp >= 0 else None,
        key=message.key(),
        value=message.value() or b"",
        headers=headers,
    )


class DlqReader:
    """Iterate the DLQ from the selected start offsets to the current end.

    With `group`, reading starts at the group's committed offsets (never
    before `from_offset`) and `commit` stores progress for the next run.
    Raises `DlqReadError` when a partition delivers nothing for
    `idle_timeout` seconds before its end, and `KafkaAdminError` when the
    topic or a partition does not exist.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        selection: DlqFilter = DlqFilter(),
        *,
        group: str | None = None,
        options: KafkaOptions | None = None,
        idle_timeout: float = 30.0,
    ) -> None:
        kafka_options = options or KafkaOptions()
        self.topic = topic
        self.group = group
        self.selection = selection
        self.idle_timeout = idle_timeout
        self._admin = AdminClient(admin_config(bootstrap_servers, kafka_options))
        config = reader_config(bootstrap_servers, kafka_options, group_id=group)
        self._consumer = Consumer(config)
        self.ranges: dict[int, tuple[int, int]] = {}
        # Messages received inside the read ranges, matching or not.
        self.read_count = 0

    def __enter__(self) -> DlqReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        # Polling hands the admin client's queued log lines to the logger,
        # and closing the consumer does the same for the consumer's lines.
        self._admin.poll(0)
        self._consumer.close()

    def _plan(self) -> dict[int, tuple[int, int]]:
        try:
            chosen = select_partitions(
                topic_partitions(self._admin, self.topic, flag="--dlq-topic"),
                self.selection.partitions,
            )
            marks = watermarks(self._consumer, self.topic, chosen)
            committed: Mapping[int, int | None] = {}
            if self.group is not None:
                committed = committed_offsets(
                    self._admin, self.group, self.topic, chosen
                )
        finally:
            # The admin client is not used after this, and queues its log
            # lines until it is polled.
            self._admin.poll(0)
        return {
            p: read_range(marks[p].low, marks[p].high, committed.get(p), self.selection)
            for p in chosen
        }

    def records(self) -> Iterator[DlqRecord]:
        """Yield every record in the read ranges that passes the filter, once."""
        self.ranges = self._plan()
        ends = {p: end for p, (start, end) in self.ranges.items() if start < end}
        if not ends:
            return
        self._consumer.assign(
            [TopicPartition(self.topic, p, self.ranges[p][0]) for p in ends]
        )
        remaining = set(ends)
        last_progress = time.monotonic()
        while remaining:
            message = self._consumer.poll(1.0)
            if message is None:
                if time.monotonic() - last_progress > self.idle_timeout:
                    raise DlqReadError(
                        f"no message from {self.topic} partitions {sorted(remaining)} "
                        f"for {self.idle_timeout:.0f} s before their end offsets "
                        f"{ {p: ends[p] for p in sorted(remaining)} }"
                    )
                continue
            last_progress = time.monotonic()
            partition = message.partition() or 0
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    self._finish(partition, remaining)
                    continue
                raise DlqReadError(f"reading {self.topic}[{partition}] failed: {error}")
            offset = message.offset() or 0
            if partition not in remaining or offset >= ends[partition]:
                self._finish(partition, remaining)
                continue
            record = _record(message)
            self.read_count += 1
            if offset >= ends[partition] - 1:
                self._finish(partition, remaining)
            if self.selection.matches(record):
                yield record

    def _finish(self, partition: int, remaining: set[int]) -> None:
        if partition in remaining:
            remaining.discard(partition)
            self._consumer.pause([TopicPartition(self.topic, partition)])

    def commit(self, next_offsets: Mapping[int, int]) -> None:
        """Commit `next_offsets` (partition -> next offset to read) for `group`."""
        if self.group is None or not next_offsets:
            return
        self._consumer.commit(
            offsets=[
                TopicPartition(self.topic, p, o)
                for p, o in sorted(next_offsets.items())
            ],
            asynchronous=False,
        )
        logger.info(
            "committed DLQ offsets %s for group %s on %s",
            dict(next_offsets),
            self.group,
            self.topic,
        )


def replay_headers(record: DlqRecord) -> list[tuple[str, bytes]]:
    """Return the message's own headers plus `dlq_*` headers with DLQ coordinates."""
    kept = [(k, v) for k, v in record.headers if k not in DLQ_HEADERS]
    kept = [(k, v) for k, v in kept if not k.startswith("dlq_")]
    coordinates = {
        "dlq_original_topic": record.original_topic,
        "dlq_original_partition": record.header("original_partition"),
        "dlq_original_offset": record.header("original_offset"),
        "dlq_reason": record.reason,
        "dlq_partition": str(record.partition),
        "dlq_offset": str(record.offset),
    }
    kept.extend((k, v.encode("utf-8")) for k, v in coordinates.items() if v is not None)
    return kept


@dataclass
class ReplayResult:
    """Counts of a replay. `skipped_no_target`: records without `original_topic`.

    `reasons` counts the replayed (or, in a dry run, planned) records by
    their reason header.
    """

    read: int = 0
    matched: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    skipped_no_target: list[DlqRecord] = field(default_factory=list)
    delivery: DeliveryResult = field(default_factory=DeliveryResult)
    planned: list[tuple[str, DlqRecord]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.delivery.ok and not self.skipped_no_target


def replay(
    reader: DlqReader,
    bootstrap_servers: str,
    *,
    to_topic: str | None = None,
    dry_run: bool = False,
    options: KafkaOptions | None = None,
) -> ReplayResult:
    """Re-produce every record of `reader` to its original topic or `to_topic`.

    With `dry_run`, `planned` lists (target topic, record) and nothing is
    produced. With a reader group, offsets are committed only when every
    matched record was delivered.
    """
    result = ReplayResult()

    def messages() -> Iterator[OutgoingMessage]:
        for record in reader.records():
            result.matched += 1
            target = to_topic or record.original_topic
            if not target:
                logger.error(
                    "DLQ message %s[%d]@%d has no original_topic header; "
                    "pass --to-topic",
                    record.topic,
                    record.partition,
                    record.offset,
                )
                result.skipped_no_target.append(record)
                continue
            result.reasons[record.reason or "unknown"] += 1
            if dry_run:
                result.planned.append((target, record))
                continue
            yield OutgoingMessage(
                topic=target,
                key=record.key,
                value=record.value,
                headers=replay_headers(record),
                label=f"DLQ message {record.topic}[{record.partition}]@{record.offset}",
            )

    if dry_run:
        for _ in messages():
            pass
    else:
        config = producer_config(
            bootstrap_servers, options or KafkaOptions(), client_id="seer-backfill-dlq"
        )
        producer = Producer(config)
        result.delivery = produce_all(producer, messages())
    result.read = reader.read_count
    if not dry_run and result.ok:
        reader.commit(_commit_positions(reader.ranges))
    return result


def _commit_positions(ranges: Mapping[int, tuple[int, int]]) -> dict[int, int]:
    # Every record in the range was read and either replayed or filtered
    # out, so the next run starts at the range's end.
    return {p: end for p, (start, end) in ranges.items() if end > start}


def summarize(records: Sequence[DlqRecord]) -> dict[str, int]:
    """Number of records per reason (`unknown` for a missing header)."""
    counts: dict[str, int] = {}
    for record in records:
        reason = record.reason or "unknown"
        counts[reason] = counts.get(reason, 0) + 1
    return dict(sorted(counts.items()))
