"""Plan and publish the first project-batch messages of a backfill run.

Each message starts a chain: the consumer processes one batch and publishes
the next message of the chain itself. A run is one of:
- projects (explicit ids, a cohort file, or every project in the database):
  one chain per project by default, so projects run in parallel across
  partitions, and a project with more than `chain_groups` groups split into
  chains over disjoint ranges of group ids; with a cohort size K, chains of
  K projects processed in order;
- worker mode: one message per worker number, with no project; the consumer
  resolves the worker's cohorts of projects itself.

Publishing the same run id twice is safe: a chain whose first batch key is
already in `backfill_ledger` is skipped here, and the consumer skips
duplicate batches that reach it anyway.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from confluent_kafka import Producer

from consumers.kafka.config import KafkaOptions, producer_config
from consumers.kafka.produce import DeliveryResult, OutgoingMessage, produce_all
from consumers.messages import (
    MAX_ID,
    InvalidBatch,
    ProjectBatch,
    check_project_batch,
    encode_project_batch,
)

logger = logging.getLogger(__name__)


# Groups per chain when a project is split. A chain's next batch waits
# behind every message already on its partition, so one long chain finishes
# long after the rest of a run. BENCHMARKS.md has the sweep behind 2,000.
DEFAULT_CHAIN_GROUPS = 2000


class ScheduleError(ValueError):
    """A run that cannot be planned; the message names the value and the fix."""


@dataclass(frozen=True)
class RunOptions:
    """Settings copied into every message of the run."""

    run_id: str
    only_delete: bool = False
    enable_ingestion: bool = False
    skip_processed_projects: bool = True
    skip_project_ids: tuple[int, ...] = ()


@dataclass
class SchedulePlan:
    """Messages to publish, and the chains left out because they already ran."""

    batches: list[ProjectBatch]
    already_started: list[ProjectBatch] = field(default_factory=list)
    skipped_project_ids: list[int] = field(default_factory=list)


def parse_cohort_text(text: str, source: str = "cohort file") -> list[int]:
    """Project ids from text with one id per line or comma-separated ids.

    Blank lines and `#` comments are ignored. Raises `ScheduleError` naming
    the line of the first token that is not an integer from 1 to `MAX_ID`,
    the range of project ids in a project-batch message.
    """
    ids: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0]
        for token in re.split(r"[,\s]+", content.strip()):
            if not token:
                continue
            if not token.isdigit() or not 1 <= int(token) <= MAX_ID:
                raise ScheduleError(
                    f"{source} line {number}: {token!r} is not a project id "
                    f"(an integer from 1 to {MAX_ID})"
                )
            ids.append(int(token))
    return ids


def unique_in_order(ids: Iterable[int]) -> list[int]:
    seen: set[int] = set()
    result: list[int] = []
    for i in ids:
        if i not in seen:
            seen.add(i)
            result.append(i)
    return result


def project_chains(
    project_ids: Sequence[int],
    run: RunOptions,
    cohort_size: int | None = None,
    splits: Mapping[int, Sequence[int]] | None = None,
) -> list[ProjectBatch]:
    """First messages for `project_ids` (already without the skipped ones).

    Without `cohort_size` every project is its own chain (`cohort` None), or
    several when `splits` gives the project's split points (ascending group
    ids): one chain per range, newest range first. With `cohort_size`,
    consecutive groups of `cohort_size` projects form one chain that starts
    at the first project of the group (`cohort_index` 0), and `splits` is
    not used.
    """
    if cohort_size is not None and cohort_size < 1:
        raise ScheduleError(f"cohort size {cohort_size} must be at least 1")
    common: dict[str, Any] = {
        "run_id": run.run_id,
        "only_delete": run.only_delete,
        "enable_ingestion": run.enable_ingestion,
        "skip_processed_projects": run.skip_processed_projects,
        "skip_project_ids": run.skip_project_ids,
    }
    chains: list[ProjectBatch] = []
    if cohort_size is None:
        for p in project_ids:
            points = (splits or {}).get(p, ())
            chains.extend(split_chains(ProjectBatch(project_id=p, **common), points))
        return chains
    for start in range(0, len(project_ids), cohort_size):
        cohort = tuple(project_ids[start : start + cohort_size])
        chains.append(
            ProjectBatch(project_id=cohort[0], cohort=cohort, cohort_index=0, **common)
        )
    return chains


def split_chains(first: ProjectBatch, points: Sequence[int]) -> list[ProjectBatch]:
    """Cut a project's chain at `points` (ascending group ids).

    Chain i covers the ids from floor i, inclusive, up to the next point,
    exclusive. The lowest floor is 0 and the highest range has no upper
    bound, so the ranges are disjoint and cover every id. Returns the chains
    newest range first, or `[first]` when there are no points.
    """
    if not points:
        return [first]
    if list(points) != sorted(set(points)) or points[0] < 1:
        raise ScheduleError(f"split points {list(points)} must ascend from 1")
    floors = [0, *points]
    tops: list[int | None] = [*points, None]
    count = len(floors)
    return [
        first.replace(cursor=top, min_group_id=floor, chains=count)
        for floor, top in reversed(list(zip(floors, tops, strict=True)))
    ]


def split_points(
    conn: psycopg.Connection[Any], project_ids: Sequence[int], chain_groups: int
) -> dict[int, list[int]]:
    """Split points of every project among `project_ids` with more than
    `chain_groups` groups: the ids at positions chain_groups + 1,
    2 * chain_groups + 1, ... counted from the lowest id.

    The highest range has no upper bound, so it also takes the groups that
    arrive after scheduling.
    """
    if chain_groups < 1 or not project_ids:
        return {}
    rows = conn.execute(
        """
        WITH large AS (
            SELECT project_id FROM groups
            WHERE project_id = ANY(%(ids)s)
            GROUP BY project_id
            HAVING count(*) > %(size)s
        )
        SELECT project_id, id FROM (
            SELECT g.project_id, g.id,
                row_number() OVER (PARTITION BY g.project_id ORDER BY g.id) AS n
            FROM groups g JOIN large USING (project_id)
        ) numbered
        WHERE n > 1 AND (n - 1) %% %(size)s = 0
        ORDER BY project_id, id
        """,
        {"ids": list(project_ids), "size": chain_groups},
    ).fetchall()
    points: dict[int, list[int]] = {}
    for project_id, group_id in rows:
        points.setdefault(int(project_id), []).append(int(group_id))
    return points


def plan_splits(
    conn: psycopg.Connection[Any],
    run_id: str,
    project_ids: Sequence[int],
    chain_groups: int,
    *,
    remember: bool,
) -> dict[int, list[int]]:
    """Split points of the projects that get more than one chain in this run.

    A project split by an earlier schedule of the run keeps that split, and
    one already in the run's ledger without a stored split (scheduled before
    splits were stored) stays one chain. Chains of a second schedule then
    have the same first batch keys as the first's, whatever the value of
    --chain-groups and however many groups arrived since, so no two chains
    overlap.
    The other projects are split now, and with `remember` their splits are
    stored, before any message is published.
    """
    stored = _stored_splits(conn, run_id, project_ids)
    differing = sum(1 for size, _ in stored.values() if size != chain_groups)
    if differing:
        logger.warning(
            "run %s split %d of these projects with another --chain-groups "
            "value before; keeping their chains",
            run_id,
            differing,
        )
    planned = {p: points for p, (_, points) in stored.items()}
    for project_id in _projects_in_ledger(conn, run_id, project_ids):
        planned.setdefault(project_id, [])
    new_ids = [p for p in project_ids if p not in planned]
    split_start = time.monotonic()
    computed = split_points(conn, new_ids, chain_groups)
    if computed:
        logger.info(
            "split %d of %d projects (over %d groups each) into %d chains in %.1f s",
            len(computed),
            len(new_ids),
            chain_groups,
            sum(len(points) + 1 for points in computed.values()),
            time.monotonic() - split_start,
        )
    if remember and new_ids:
        conn.execute(
            """
            INSERT INTO backfill_splits (run_id, project_id, chain_groups, points)
            SELECT %(run_id)s, p, %(size)s, points::bigint[]
            FROM unnest(%(ids)s::bigint[], %(points)s::text[]) AS t (p, points)
            ON CONFLICT (run_id, project_id) DO NOTHING
            """,
            {
                "run_id": run_id,
                "size": chain_groups,
                "ids": new_ids,
                "points": [
                    "{" + ",".join(map(str, computed.get(p, []))) + "}" for p in new_ids
                ],
            },
        )
        # A schedule of the same run running at the same time may have
        # stored its split first, and then its split is the one to publish.
        for project_id, (_, points) in _stored_splits(conn, run_id, new_ids).items():
            planned[project_id] = points
    else:
        planned.update(computed)
    return {p: points for p, points in planned.items() if points}


def _stored_splits(
    conn: psycopg.Connection[Any], run_id: str, project_ids: Sequence[int]
) -> dict[int, tuple[int, list[int]]]:
    rows = conn.execute(
        "SELECT project_id, chain_groups, points FROM backfill_splits "
        "WHERE run_id = %s AND project_id = ANY(%s)",
        (run_id, list(project_ids)),
    ).fetchall()
    return {int(p): (int(size), [int(x) for x in points]) for p, size, points in rows}


def _projects_in_ledger(
    conn: psycopg.Connection[Any], run_id: str, project_ids: Sequence[int]
) -> list[int]:
    rows = conn.execute(
        "SELECT DISTINCT project_id FROM backfill_ledger "
        "WHERE run_id = %s AND project_id = ANY(%s)",
        (run_id, list(project_ids)),
    ).fetchall()
    return [int(row[0]) for row in rows]


def worker_chains(
    total_workers: int, worker_numbers: Sequence[int], run: RunOptions
) -> list[ProjectBatch]:
    """Build one message per worker number, or per worker when none are given."""
    if total_workers < 1:
        raise ScheduleError(f"--total-workers {total_workers} must be at least 1")
    numbers = list(worker_numbers) or list(range(total_workers))
    outside = [n for n in numbers if not 0 <= n < total_workers]
    if outside:
        raise ScheduleError(
            f"worker numbers {outside} are outside 0..{total_workers - 1} "
            f"for --total-workers {total_workers}"
        )
    return [
        ProjectBatch(
            run_id=run.run_id,
            project_id=None,
            worker_number=n,
            total_workers=total_workers,
            only_delete=run.only_delete,
            enable_ingestion=run.enable_ingestion,
            skip_processed_projects=run.skip_processed_projects,
            skip_project_ids=run.skip_project_ids,
        )
        for n in unique_in_order(numbers)
    ]


def all_project_ids(conn: psycopg.Connection[Any]) -> list[int]:
    """Return every project id in the database, ascending."""
    rows = conn.execute("SELECT id FROM projects ORDER BY id").fetchall()
    return [int(row[0]) for row in rows]


def existing_batch_keys(conn: psycopg.Connection[Any], keys: Sequence[str]) -> set[str]:
    """Return the keys among `keys` that have a `backfill_ledger` row, in any state."""
    if not keys:
        return set()
    rows = conn.execute(
        "SELECT batch_key FROM backfill_ledger WHERE batch_key = ANY(%s)", (list(keys),)
    ).fetchall()
    return {str(row[0]) for row in rows}


def drop_started(
    chains: Sequence[ProjectBatch], existing_keys: set[str]
) -> tuple[list[ProjectBatch], list[ProjectBatch]]:
    """Split chains into (to publish, already in the ledger) by first batch key."""
    fresh = [c for c in chains if c.batch_key not in existing_keys]
    started = [c for c in chains if c.batch_key in existing_keys]
    return fresh, started


def plan_schedule(
    database_url: str,
    run: RunOptions,
    *,
    project_ids: Sequence[int] = (),
    all_projects: bool = False,
    total_workers: int | None = None,
    worker_numbers: Sequence[int] = (),
    cohort_size: int | None = None,
    chain_groups: int = DEFAULT_CHAIN_GROUPS,
    remember: bool = True,
) -> SchedulePlan:
    """Choose the chains of the run and leave out those already in the ledger.

    Exactly one source: `project_ids`, `all_projects` or `total_workers`.
    Projects with more than `chain_groups` groups (0: none) are split into
    several chains, except with `cohort_size`, in worker mode and for
    `only_delete`, where a project's batches stay in one chain. A project
    that this run already split keeps its stored split (`plan_splits`); with
    `remember` the splits of the other projects are stored.
    Raises `ScheduleError` for invalid input, including a message that the
    consumer would reject (`check_batches`), and `psycopg.Error` when the
    database cannot be read.
    """
    sources = sum([bool(project_ids), all_projects, total_workers is not None])
    if sources != 1:
        raise ScheduleError(
            "choose exactly one source of projects: --project-id/--cohort-file, "
            "--all-projects, or --total-workers"
        )
    with psycopg.connect(database_url, autocommit=True) as conn:
        skipped: list[int] = []
        if total_workers is not None:
            chains = worker_chains(total_workers, worker_numbers, run)
        else:
            ids = unique_in_order(
                all_project_ids(conn) if all_projects else project_ids
            )
            excluded = set(run.skip_project_ids)
            skipped = [p for p in ids if p in excluded]
            chosen = [p for p in ids if p not in excluded]
            splits: dict[int, list[int]] = {}
            if cohort_size is None and not run.only_delete:
                splits = plan_splits(
                    conn, run.run_id, chosen, chain_groups, remember=remember
                )
            chains = project_chains(chosen, run, cohort_size, splits)
        existing = existing_batch_keys(conn, [c.batch_key for c in chains])
    fresh, started = drop_started(chains, existing)
    check_batches(fresh)
    return SchedulePlan(fresh, started, skipped)


def check_batches(batches: Iterable[ProjectBatch]) -> None:
    """Raise `ScheduleError` for the first batch that the consumer would reject.

    The consumer sends such a message to the dead-letter topic, so the run
    would never start that chain.
    """
    for batch in batches:
        try:
            check_project_batch(batch)
        except InvalidBatch as e:
            raise ScheduleError(
                f"the message for {_label(batch)} is invalid ({e}), so the "
                "consumer would dead-letter it; nothing was published. Change "
                "the option or database row that sets that field."
            ) from e


def _label(batch: ProjectBatch) -> str:
    scope = (
        f"project {batch.project_id}"
        if batch.project_id is not None
        else f"worker {batch.worker_number}/{batch.total_workers}"
    )
    return f"{scope} of run {batch.run_id}"


def outgoing(batch: ProjectBatch, topic: str) -> OutgoingMessage:
    return OutgoingMessage(
        topic=topic,
        key=batch.key(),
        value=encode_project_batch(batch),
        label=_label(batch),
    )


def publish(
    batches: Sequence[ProjectBatch],
    bootstrap_servers: str,
    topic: str,
    options: KafkaOptions | None = None,
    on_delivered: Callable[[OutgoingMessage], None] | None = None,
) -> DeliveryResult:
    """Produce the batches keyed by project id and wait for every delivery report."""
    config = producer_config(
        bootstrap_servers, options or KafkaOptions(), client_id="seer-backfill-schedule"
    )
    # Without a broker, librdkafka logs every connection attempt until the
    # delivery timeout. The rate-limited logger keeps one line per kind.
    producer = Producer(config)
    result = produce_all(
        producer, (outgoing(b, topic) for b in batches), on_delivered=on_delivered
    )
    logger.info(
        "published %d of %d project-batch messages to %s",
        result.delivered,
        len(batches),
        topic,
    )
    return result
