"""The sequential baseline: the original backfill task's design, measured.

Sentry's backfill task handled one batch of `batch_size` (10) groups of one
project per run, each step after the other on one thread, then enqueued its
next run. This module repeats that loop over the same data with this
project's own queries, hashing and Seer client:

1. lookup: the next batch of groups by keyset cursor, the latest event of
   each eligible group, the node-store payloads (`consumers.db.lookup`);
2. hashing: `consumers.pipeline.hashing.hash_event` per event;
3. Seer: one grouping-record request for the batch (`SeerClient`);
4. mark: one bulk JSON-path update of the marks (`consumers.db.marks`).

Projects are processed in id order. There is no Kafka, no ledger and no
outcomes: the original paid a task-queue round trip per batch on top, so
this baseline is faster than the original was, and the consumer's speed-up
over it is understated rather than inflated.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from consumers.db import lookup as queries
from consumers.db import marks
from consumers.db.lookup import SEER_MODEL_VERSION
from consumers.messages import ProjectBatch
from consumers.pipeline import hashing
from consumers.pipeline.lookup import node_id
from consumers.pipeline.types import (
    Action,
    BatchPlan,
    Coordinates,
    DecodedBatch,
    GroupEvent,
    Project,
    SeerRecord,
)
from consumers.seer.client import SeerClient, SeerClientConfig
from consumers.seer.types import GroupingRecord, SimilarIssue

logger = logging.getLogger(__name__)

STAGES = ("lookup", "hashing", "seer", "mark")


@dataclass(frozen=True)
class BaselineLimits:
    """When to stop: after `max_seconds` or `max_groups` marked, whichever is first."""

    max_seconds: float = 30.0
    max_groups: int = 5_000
    batch_size: int = 10
    max_age_days: int = 90
    event_window_seconds: int = 60


@dataclass
class BaselineFigures:
    """Figures of one baseline pass. Durations are in seconds."""

    groups: int = 0
    examined: int = 0
    batches: int = 0
    seconds: float = 0.0
    seer_requests: int = 0
    stopped_by: str = "dataset_exhausted"
    batch_seconds: list[float] = field(default_factory=list)
    stage_wall: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(STAGES, 0.0)
    )
    stage_cpu: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(STAGES, 0.0)
    )

    @property
    def groups_per_second(self) -> float:
        return self.groups / self.seconds if self.seconds > 0 else 0.0


class _StageClock:
    """Adds wall and thread CPU time of one step to the figures."""

    def __init__(self, figures: BaselineFigures, stage: str) -> None:
        self.figures = figures
        self.stage = stage

    def __enter__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.thread_time()

    def __exit__(self, *exc_info: object) -> None:
        self.figures.stage_wall[self.stage] += time.perf_counter() - self.wall
        self.figures.stage_cpu[self.stage] += time.thread_time() - self.cpu


def _plan_for(project: Project, cursor: int | None) -> BatchPlan:
    """Build a plan to hand to `hash_event`, which uses it only for log ids."""
    batch = ProjectBatch(run_id="baseline", project_id=project.id, cursor=cursor)
    source = Coordinates("baseline", 0, 0, datetime.now(UTC))
    return BatchPlan(DecodedBatch(batch, source), Action.BACKFILL, project=project)


def _lookup(
    conn: psycopg.Connection[Any],
    project: Project,
    cursor: int | None,
    limits: BaselineLimits,
) -> tuple[list[queries.GroupRow], list[GroupEvent]]:
    groups = queries.fetch_group_batch(
        conn, project.id, cursor, limits.batch_size, limits.max_age_days
    )
    eligible = [g for g in groups if g.skip_reason is None]
    latest = queries.fetch_latest_events(
        conn, project.id, eligible, limits.event_window_seconds
    )
    nodes = {group_id: node_id(project.id, ev) for group_id, ev in latest.items()}
    payloads = queries.fetch_payloads(conn, list(nodes.values()))
    events = [
        GroupEvent(group_id, event_id, payloads[nodes[group_id]])
        for group_id, event_id in latest.items()
        if nodes[group_id] in payloads
    ]
    return groups, events


def _mark(
    conn: psycopg.Connection[Any],
    project: Project,
    records: Sequence[SeerRecord],
    neighbours: dict[int, SimilarIssue],
) -> int:
    parents = marks.groups_for_hashes(
        conn, project.id, sorted({n.parent_hash for n in neighbours.values()})
    )
    values: dict[int, dict[str, Any]] = {}
    for record in records:
        mark: dict[str, Any] = {
            "similarity_model_version": SEER_MODEL_VERSION,
            "request_hash": record.hash,
        }
        neighbour = neighbours.get(record.group_id)
        if neighbour is not None:
            parent_group_id = parents.get(neighbour.parent_hash)
            if parent_group_id is None:
                continue
            mark["results"] = [
                {
                    "stacktrace_distance": neighbour.stacktrace_distance,
                    "should_group": neighbour.should_group,
                    "parent_group_id": parent_group_id,
                    "parent_hash": neighbour.parent_hash,
                }
            ]
        values[record.group_id] = mark
    return marks.set_seer_marks(conn, project.id, values)


def _run_batch(
    conn: psycopg.Connection[Any],
    client: SeerClient,
    project: Project,
    cursor: int | None,
    limits: BaselineLimits,
    figures: BaselineFigures,
) -> int | None:
    """Process one batch; return the next cursor, or None when the project is done."""
    started = time.perf_counter()
    with _StageClock(figures, "lookup"):
        groups, events = _lookup(conn, project, cursor, limits)
    if not groups:
        return None
    plan = _plan_for(project, cursor)
    with _StageClock(figures, "hashing"):
        records = [r for r, _ in (hashing.hash_event(plan, e) for e in events) if r]
    with _StageClock(figures, "seer"):
        response = client.post_grouping_records(
            [
                GroupingRecord(
                    group_id=r.group_id,
                    hash=r.hash,
                    project_id=project.id,
                    exception_type=r.exception_type,
                    stacktrace=r.stacktrace,
                )
                for r in records
            ]
        )
    figures.seer_requests += 1 if records else 0
    with _StageClock(figures, "mark"):
        marked = _mark(conn, project, records, response.groups_with_neighbor)
    figures.groups += marked
    figures.examined += len(groups)
    figures.batches += 1
    figures.batch_seconds.append(time.perf_counter() - started)
    if len(groups) < limits.batch_size:
        return None
    return groups[-1].id


def run_baseline(
    database_url: str, seer_url: str, limits: BaselineLimits
) -> BaselineFigures:
    """Run the sequential loop until a limit is reached or every group is done."""
    figures = BaselineFigures()
    hashing.configure(None)
    config = SeerClientConfig(
        base_url=seer_url, timeout_seconds=10.0, max_concurrency=1
    )
    with (
        psycopg.connect(database_url, autocommit=True) as conn,
        SeerClient(config) as client,
    ):
        rows = conn.execute(
            "SELECT id, organization_id, platform FROM projects ORDER BY id"
        ).fetchall()
        started = time.perf_counter()
        for project_id, organization_id, platform in rows:
            project = Project(project_id, organization_id, platform)
            cursor: int | None = None
            while True:
                elapsed = time.perf_counter() - started
                if elapsed >= limits.max_seconds:
                    figures.stopped_by = "time_limit"
                    break
                if figures.groups >= limits.max_groups:
                    figures.stopped_by = "group_limit"
                    break
                cursor = _run_batch(conn, client, project, cursor, limits, figures)
                if cursor is None:
                    break
            if figures.stopped_by != "dataset_exhausted":
                break
        figures.seconds = time.perf_counter() - started
    logger.info(
        "baseline: %d groups in %.1f s (%.1f groups/s), stopped by %s",
        figures.groups,
        figures.seconds,
        figures.groups_per_second,
        figures.stopped_by,
    )
    return figures
