"""CPU time by pipeline stage, and the cost of hashing against parsing.

`profile_stages` runs the consumer's own stage functions (built by
`BackfillStrategyFactory`, hashing in-process) one after the other on one
thread, on project chains of the dataset, and charges the process CPU time
(`time.process_time`) spent during each call to its stage. Process CPU time
includes the helper threads a stage uses (Seer requests run on the Seer
stage's executor, deliveries on librdkafka's threads), which thread CPU time
would miss. Nothing else runs in the benchmark process meanwhile.

`hashing_versus_parsing` times, per event of a sample of node-store payloads,
`zlib.decompress` + `json.loads` against what the hashing stage does with the
parsed event, `grouping.seer_inputs`: grouping variants, primary hash, frame
count and stacktrace string.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg
from arroyo.backends.kafka import KafkaProducer
from arroyo.types import Message, Value

from bench.services import tansu_options
from consumers import grouping
from consumers.kafka.config import producer_config
from consumers.messages import ProjectBatch
from consumers.pipeline import hashing
from consumers.pipeline.activity import Activity
from consumers.pipeline.factory import BackfillStrategyFactory
from consumers.pipeline.settings import PipelineSettings
from consumers.pipeline.types import Coordinates, DecodedBatch

logger = logging.getLogger(__name__)

STAGES = ("lookup", "hashing", "seer", "onward")
P = TypeVar("P")
T = TypeVar("T")


@dataclass
class StageProfile:
    """CPU and wall seconds per stage over `groups` groups sent to Seer."""

    groups: int = 0
    batches: int = 0
    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    wall: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    def per_thousand(self, seconds: dict[str, float]) -> dict[str, float]:
        if not self.groups:
            return dict.fromkeys(seconds, 0.0)
        return {stage: 1000 * s / self.groups for stage, s in seconds.items()}


def _timed(
    profile: StageProfile,
    stage: str,
    function: Callable[[Message[P]], T],
    payload: P,
) -> T:
    message = Message(Value(payload, {}, datetime.now(UTC)))
    wall = time.perf_counter()
    cpu = time.process_time()
    result = function(message)
    profile.cpu[stage] += time.process_time() - cpu
    profile.wall[stage] += time.perf_counter() - wall
    return result


def profile_stages(
    database_url: str,
    seer_url: str,
    bootstrap_servers: str,
    topic: str,
    settings_changes: dict[str, Any],
    max_groups: int,
) -> StageProfile:
    """Run project chains through the stages until `max_groups` are sent.

    `topic` receives the next-batch messages and outcomes the onward stage
    produces; it must exist. `settings_changes` overrides `PipelineSettings`
    fields, as the consumer's flags would.
    """
    settings = PipelineSettings(
        database_url=database_url,
        seer_url=seer_url,
        input_topic=topic,
        outcomes_topic=topic,
        processes=0,
        **settings_changes,
    )
    producer = KafkaProducer(
        producer_config(bootstrap_servers, tansu_options(), client_id="bench-profile")
    )
    factory = BackfillStrategyFactory(settings, producer, Activity())
    profile = StageProfile()
    run_id = str(uuid.uuid4())
    try:
        with psycopg.connect(database_url) as conn:
            project_ids = [
                int(row[0])
                for row in conn.execute("SELECT id FROM projects ORDER BY id")
            ]
        offset = 0
        for project_id in project_ids:
            batch: ProjectBatch | None = ProjectBatch(
                run_id=run_id, project_id=project_id
            )
            while batch is not None and profile.groups < max_groups:
                source = Coordinates(topic, 0, offset, datetime.now(UTC))
                offset += 1
                decoded = DecodedBatch(batch, source)
                plan = _timed(profile, "lookup", factory.lookup, decoded)
                hashed = _timed(profile, "hashing", hashing.hash_batch, plan)
                result = _timed(profile, "seer", factory.seer, hashed)
                _timed(profile, "onward", factory.onward, result)
                profile.groups += result.accepted
                profile.batches += 1
                batch = plan.next_batch
            if profile.groups >= max_groups:
                break
    finally:
        factory.shutdown()
        producer.close().result(timeout=30)
    return profile


@dataclass(frozen=True)
class HashingCost:
    """Seconds per event over a sample of `events` node-store payloads.

    `first_hash_seconds` is the first pass over the sample, whose frames
    are new to the grouping memos. It follows a warm-up pass over as many
    other payloads, so that, as in a consumer that has run for a while,
    the process has compiled its patterns and filled its caches of shared
    values (modules, file names), but has not seen the sample's frames.
    `hash_seconds` and `parse_seconds` are medians of three more passes,
    in which the memos hit for as many of the sample's frames as they can
    hold.
    """

    events: int
    warm_up_events: int
    parse_seconds: float
    first_hash_seconds: float
    hash_seconds: float

    @property
    def ratio(self) -> float:
        return self.hash_seconds / self.parse_seconds if self.parse_seconds else 0.0

    @property
    def first_ratio(self) -> float:
        if not self.parse_seconds:
            return 0.0
        return self.first_hash_seconds / self.parse_seconds


def _hash_parsed(event: dict[str, Any], enhancements: Any) -> str:
    inputs = grouping.seer_inputs(event, enhancements=enhancements)
    return inputs.stacktrace


def _timed_pass(payloads: list[bytes], enhancements: Any) -> tuple[float, float]:
    """Return the CPU seconds of parsing and of hashing, over one pass.

    Each payload is parsed, hashed and dropped before the next one, as in
    the hashing stage, so the cyclic collector traverses only one parsed event
    at a time.
    """
    parse_seconds = hash_seconds = 0.0
    clock = time.process_time
    for payload in payloads:
        started = clock()
        event = json.loads(zlib.decompress(payload))
        parsed = clock()
        _hash_parsed(event, enhancements)
        hash_seconds += clock() - parsed
        parse_seconds += parsed - started
        del event
    return parse_seconds, hash_seconds


def hashing_versus_parsing(database_url: str, sample: int) -> HashingCost:
    """Time parsing and hashing of `sample` payloads read from the node store.

    The `sample` payloads after them, in node-store order, are the warm-up.
    Raises `ValueError` when the node store contains fewer than `2 * sample`.
    """
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT data FROM nodestore ORDER BY id LIMIT %s", (2 * sample,)
        ).fetchall()
    if len(rows) < 2 * sample:
        raise ValueError(
            f"the node store contains {len(rows)} payloads, and timing a sample "
            f"of {sample} needs {2 * sample} (as many again to warm up)"
        )
    payloads = [bytes(row[0]) for row in rows[:sample]]
    warm_up = [bytes(row[0]) for row in rows[sample:]]
    # The hashing stage's own loader also sets up the cyclic collector as
    # a consumer does after start-up.
    hashing.configure(None)
    hashing.load_rules()
    enhancements = grouping.load_enhancements(None)
    _timed_pass(warm_up, enhancements)
    _, first_hash = _timed_pass(payloads, enhancements)

    parse_runs: list[float] = []
    hash_runs: list[float] = []
    for _ in range(3):
        parse_seconds, hash_seconds = _timed_pass(payloads, enhancements)
        parse_runs.append(parse_seconds)
        hash_runs.append(hash_seconds)
    count = max(len(payloads), 1)
    return HashingCost(
        events=len(payloads),
        warm_up_events=len(warm_up),
        parse_seconds=statistics.median(parse_runs) / count,
        first_hash_seconds=first_hash / count,
        hash_seconds=statistics.median(hash_runs) / count,
    )
