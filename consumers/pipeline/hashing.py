"""Stage 3, hashing: `BatchPlan` → `HashedBatch`.

CPU-bound, so it runs in worker processes (`RunTaskWithMultiprocessing`) or,
with zero processes, in the consumer thread. For each event it decompresses
the node-store payload, computes the grouping component tree, takes the
event's stored primary hash when it has one (else the computed one), and
builds the Seer stacktrace string. Events are filtered, with a counted
reason, when they have no stacktrace, too many contributing frames, an empty
stacktrace string, no primary hash, or a payload that cannot be read. A
failure of one event never fails the batch. Pure function: safe to replay.
"""

from __future__ import annotations

import functools
import gc
import json
import logging
import os
import signal
import zlib
from collections import Counter
from multiprocessing.synchronize import Event as EventType
from types import FrameType
from typing import Any

from arroyo.types import Message

from consumers import grouping
from consumers.native_memory import MallocTrimmer
from consumers.ops.metrics import init_worker_metrics, time_stage
from consumers.pipeline.types import (
    Action,
    BatchPlan,
    GroupEvent,
    HashedBatch,
    SeerRecord,
)
from consumers.process_control import die_with_parent

logger = logging.getLogger(__name__)

# Loaded once per process: parsing the rules costs far more than applying them.
_enhancements: Any = None
_rules_path: str | None = None


def configure(rules_path: str | None) -> None:
    """Select the enhancement rules file; call in every worker process."""
    global _enhancements, _rules_path
    _rules_path = rules_path
    _enhancements = None


class RulesFileError(Exception):
    """The configured stack-trace rules file is missing, unreadable or invalid."""


def load_rules() -> None:
    """Parse the configured rules file.

    Raises `RulesFileError`, with the file's problem as its cause.
    """
    try:
        _get_enhancements()
    except (grouping.GroupingError, OSError) as e:
        raise RulesFileError(f"invalid --rules file {_rules_path!r}: {e}") from e


def initialize_worker(
    rules_path: str | None, trim_interval_seconds: float, closing: EventType
) -> None:
    """Initialize a hashing worker process.

    Workers ignore SIGINT, and SIGTERM until `closing` is set. A signal sent
    to the whole process group (by `timeout`, systemd or a terminal) must
    reach only the consumer, which then sets `closing` and closes the pool
    with SIGTERM. On Linux a worker also gets SIGKILL when its consumer dies,
    so a killed consumer leaves no worker behind. A worker trims its malloc
    heap every `trim_interval_seconds` (0: never), like the consumer process.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, functools.partial(_exit_if_closing, closing))
    die_with_parent(signal.SIGKILL)
    init_worker_metrics()
    configure(rules_path)
    MallocTrimmer(trim_interval_seconds).start()


def _exit_if_closing(closing: EventType, signum: int, frame: FrameType | None) -> None:
    if closing.is_set():
        # The closing pool discards this worker's results, and a busy worker
        # must not keep the pool's close waiting.
        os._exit(0)


def _get_enhancements() -> Any:
    global _enhancements
    if _enhancements is None:
        _enhancements = grouping.load_enhancements(_rules_path)
        # The parsed rules live for the whole process, so they are moved out
        # of the cyclic collector's view. The default collector thresholds
        # stay: raising them let peak RSS grow from 129 to 172 MB at 10,000
        # groups and to 332 MB at 100,000 in bench/run.py.
        gc.freeze()
    return _enhancements


def _stored_primary_hash(event: dict[str, Any]) -> str | None:
    hashes = event.get("hashes")
    if isinstance(hashes, list) and hashes and isinstance(hashes[0], str):
        return hashes[0]
    return None


def hash_event(
    plan: BatchPlan, item: GroupEvent
) -> tuple[SeerRecord | None, str | None]:
    """Build the Seer record of one event, or return the reason it is filtered."""
    try:
        event = json.loads(zlib.decompress(item.payload))
    except (zlib.error, ValueError) as e:
        logger.error(
            "unreadable event payload: group=%d event=%s %s: %s",
            item.group_id,
            item.event_id,
            plan.source.log_ids(),
            e,
        )
        return None, "invalid_payload"
    if not isinstance(event, dict):
        return None, "invalid_payload"
    try:
        return _build_record(plan, item, event)
    except Exception:
        # A defect on one unusual event must not stop the whole backfill: the
        # group is counted as filtered, logged with its ids, and picked up by
        # a later run once the defect is fixed.
        logger.exception(
            "unexpected error while hashing: group=%d event=%s %s",
            item.group_id,
            item.event_id,
            plan.source.log_ids(),
        )
        return None, "grouping_failed"


def _build_record(
    plan: BatchPlan, item: GroupEvent, event: dict[str, Any]
) -> tuple[SeerRecord | None, str | None]:
    if not grouping.has_stacktrace(event):
        return None, "no_stacktrace"
    try:
        inputs = grouping.seer_inputs(event, enhancements=_get_enhancements())
    except grouping.GroupingError as e:
        logger.error(
            "grouping failed: group=%d event=%s %s: %s",
            item.group_id,
            item.event_id,
            plan.source.log_ids(),
            e,
        )
        return None, "grouping_failed"
    if inputs.too_many_frames:
        return None, "too_many_frames"
    if not inputs.stacktrace:
        return None, "empty_stacktrace_string"
    primary_hash = _stored_primary_hash(event) or inputs.primary_hash
    if not primary_hash:
        return None, "no_primary_hash"
    record = SeerRecord(
        group_id=item.group_id,
        hash=primary_hash,
        exception_type=inputs.exception_type,
        stacktrace=inputs.stacktrace,
    )
    return record, None


def hash_batch(message: Message[BatchPlan]) -> HashedBatch:
    """The stage's processing function (module level, so it pickles)."""
    plan = message.payload
    if plan.action is not Action.BACKFILL:
        return HashedBatch(plan=plan, records=(), filtered={})
    records: list[SeerRecord] = []
    filtered: Counter[str] = Counter()
    with time_stage("hashing"):
        for item in plan.events:
            record, reason = hash_event(plan, item)
            if record is not None:
                records.append(record)
            else:
                assert reason is not None
                filtered[reason] += 1
    return HashedBatch(plan=plan, records=tuple(records), filtered=dict(filtered))
