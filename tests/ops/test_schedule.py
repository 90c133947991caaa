"""Scheduling runs: planning functions, and the command against broker and database."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result

from consumers.cli.schedule import schedule
from consumers.db import ledger
from consumers.embedded.broker import free_port
from consumers.messages import ProjectBatch, decode_project_batch
from consumers.ops.schedule import (
    RunOptions,
    ScheduleError,
    drop_started,
    parse_cohort_text,
    plan_schedule,
    project_chains,
    split_chains,
    split_points,
    unique_in_order,
    worker_chains,
)
from tests.pipeline.conftest import seer_backfill

RUN = RunOptions(run_id="run-1", skip_project_ids=(9,))


def test_cohort_text_lines_and_commas() -> None:
    text = "1\n2, 3\n\n# comment\n4 # trailing\n5,6,\n"
    assert parse_cohort_text(text) == [1, 2, 3, 4, 5, 6]


def test_cohort_text_invalid_token() -> None:
    with pytest.raises(ScheduleError, match="line 2: 'x7'"):
        parse_cohort_text("1\nx7\n")


def test_cohort_text_zero_rejected() -> None:
    with pytest.raises(ScheduleError, match="'0'"):
        parse_cohort_text("0")


def test_unique_in_order() -> None:
    assert unique_in_order([3, 1, 3, 2, 1]) == [3, 1, 2]


def test_chains_one_per_project() -> None:
    chains = project_chains([5, 7], RUN)
    assert [c.project_id for c in chains] == [5, 7]
    assert all(c.cohort is None for c in chains)
    assert all(c.skip_project_ids == (9,) for c in chains)


def test_chains_by_cohort_size() -> None:
    chains = project_chains([1, 2, 3, 4, 5], RUN, cohort_size=2)
    assert [c.cohort for c in chains] == [(1, 2), (3, 4), (5,)]
    assert [c.project_id for c in chains] == [1, 3, 5]
    assert all(c.cohort_index == 0 for c in chains)


def test_split_chains_cover_disjoint_ranges_newest_first() -> None:
    first = ProjectBatch(run_id="r", project_id=3, enable_ingestion=True)
    chains = split_chains(first, [40, 70])
    assert [(c.cursor, c.min_group_id) for c in chains] == [
        (None, 70),
        (70, 40),
        (40, 0),
    ]
    assert {c.chains for c in chains} == {3}
    assert all(c.enable_ingestion and c.project_id == 3 for c in chains)
    assert split_chains(first, []) == [first]


@pytest.mark.parametrize("points", [[70, 40], [40, 40], [0, 10]])
def test_split_chains_rejects_unordered_points(points: list[int]) -> None:
    with pytest.raises(ScheduleError, match="must ascend"):
        split_chains(ProjectBatch(run_id="r", project_id=3), points)


def test_chains_split_only_the_given_projects() -> None:
    chains = project_chains([5, 7], RUN, splits={7: [100]})
    assert [(c.project_id, c.min_group_id) for c in chains] == [
        (5, None),
        (7, 100),
        (7, 0),
    ]
    # Cohorts keep a project's batches in one chain.
    cohort = project_chains([5, 7], RUN, cohort_size=2, splits={7: [100]})
    assert [c.min_group_id for c in cohort] == [None]


def test_chains_invalid_cohort_size() -> None:
    with pytest.raises(ScheduleError, match="at least 1"):
        project_chains([1], RUN, cohort_size=0)


def test_worker_chains_all_workers() -> None:
    chains = worker_chains(3, [], RUN)
    assert [(c.worker_number, c.total_workers) for c in chains] == [
        (0, 3),
        (1, 3),
        (2, 3),
    ]
    assert all(c.project_id is None for c in chains)


def test_worker_chains_out_of_range() -> None:
    with pytest.raises(ScheduleError, match=r"\[3\] are outside 0..2"):
        worker_chains(3, [1, 3], RUN)


def test_drop_started_by_first_key() -> None:
    chains = project_chains([1, 2], RUN)
    fresh, started = drop_started(chains, {chains[0].batch_key})
    assert [c.project_id for c in fresh] == [2]
    assert [c.project_id for c in started] == [1]


# The command, against the broker and the database.


@pytest.fixture
def projects(clean_database: str) -> str:
    with psycopg.connect(clean_database, autocommit=True) as conn:
        for project_id in (30, 10, 20):
            conn.execute(
                "INSERT INTO projects (id, organization_id, slug) VALUES (%s, 1, %s)",
                (project_id, f"p{project_id}"),
            )
    return clean_database


def invoke(database_url: str, bootstrap_servers: str, topic: str, *args: str) -> Result:
    return CliRunner().invoke(
        schedule,
        [
            "--database-url",
            database_url,
            "--bootstrap-servers",
            bootstrap_servers,
            "--topic",
            topic,
            "-O",
            "producer:batch.num.messages=1",
            *args,
        ],
    )


def batches(records: list) -> list[ProjectBatch]:  # type: ignore[type-arg]
    return [decode_project_batch(r.value) for r in records]


def test_schedule_project_ids(
    projects: str,
    bootstrap_servers: str,
    make_topic: Callable[..., str],
    read_topic: Callable[[str], list],  # type: ignore[type-arg]
) -> None:
    topic = make_topic("schedule", partitions=4)
    result = invoke(
        projects,
        bootstrap_servers,
        topic,
        "--run-id",
        "r-ids",
        "--project-id",
        "20",
        "--project-id",
        "10",
        "--project-id",
        "30",
        "--skip-project-id",
        "30",
        "--only-delete",
    )
    assert result.exit_code == 0, result.output
    assert "run id: r-ids" in result.stdout
    assert "published: 2 messages" in result.stdout
    records = read_topic(topic)
    assert sorted(r.key for r in records) == [b"10", b"20"]
    decoded = batches(records)
    assert {b.project_id for b in decoded} == {10, 20}
    assert all(b.only_delete and b.run_id == "r-ids" for b in decoded)
    assert all(b.skip_project_ids == (30,) for b in decoded)


def test_schedule_all_projects_in_cohorts(
    projects: str,
    bootstrap_servers: str,
    make_topic: Callable[..., str],
    read_topic: Callable[[str], list],  # type: ignore[type-arg]
) -> None:
    topic = make_topic("schedule")
    result = invoke(
        projects,
        bootstrap_servers,
        topic,
        "--all-projects",
        "--cohort-size",
        "2",
        "--no-skip-processed-projects",
    )
    assert result.exit_code == 0, result.output
    decoded = batches(read_topic(topic))
    assert [b.cohort for b in decoded] == [(10, 20), (30,)]
    assert [b.project_id for b in decoded] == [10, 30]
    assert not any(b.skip_processed_projects for b in decoded)


def test_schedule_cohort_file(
    projects: str,
    bootstrap_servers: str,
    make_topic: Callable[..., str],
    read_topic: Callable[[str], list],  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    topic = make_topic("schedule")
    cohort = tmp_path / "cohort.txt"
    cohort.write_text("10, 20\n20\n# done\n")
    result = invoke(projects, bootstrap_servers, topic, "--cohort-file", str(cohort))
    assert result.exit_code == 0, result.output
    assert sorted(b.project_id or 0 for b in batches(read_topic(topic))) == [10, 20]


def test_schedule_worker_mode(
    projects: str,
    bootstrap_servers: str,
    make_topic: Callable[..., str],
    read_topic: Callable[[str], list],  # type: ignore[type-arg]
) -> None:
    topic = make_topic("schedule")
    result = invoke(
        projects,
        bootstrap_servers,
        topic,
        "--total-workers",
        "4",
        "--worker-number",
        "1",
        "--enable-ingestion",
    )
    assert result.exit_code == 0, result.output
    records = read_topic(topic)
    assert [r.key for r in records] == [b"worker-1"]
    (batch,) = batches(records)
    assert batch.project_id is None
    assert (batch.worker_number, batch.total_workers) == (1, 4)
    assert batch.enable_ingestion


def test_schedule_dry_run(
    projects: str,
    bootstrap_servers: str,
    make_topic: Callable[..., str],
    read_topic: Callable[[str], list],  # type: ignore[type-arg]
) -> None:
    topic = make_topic("schedule")
    result = invoke(
        projects,
        bootstrap_servers,
        topic,
        "--all-projects",
        "--dry-run",
        "--run-id",
        "d",
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["key"] for line in lines] == ["10", "20", "30"]
    assert lines[0]["value"]["run_id"] == "d"
    assert lines[0]["topic"] == topic
    assert "dry run: 3 messages not published" in result.stderr
    assert read_topic(topic) == []


def test_schedule_run_twice(
    projects: str,
    bootstrap_servers: str,
    make_topic: Callable[..., str],
    read_topic: Callable[[str], list],  # type: ignore[type-arg]
) -> None:
    topic = make_topic("schedule")
    first = invoke(
        projects, bootstrap_servers, topic, "--all-projects", "--run-id", "twice"
    )
    assert first.exit_code == 0, first.output
    # The consumer processed the first batch of project 10's chain.
    key = ProjectBatch(run_id="twice", project_id=10).batch_key
    with psycopg.connect(projects, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO backfill_ledger (batch_key, run_id, project_id, state) "
            "VALUES (%s, 'twice', 10, 'done')",
            (key,),
        )
    second = invoke(
        projects, bootstrap_servers, topic, "--all-projects", "--run-id", "twice"
    )
    assert second.exit_code == 0, second.output
    assert "already in backfill_ledger, skipped: 1 chains" in second.stdout
    assert "published: 2 messages" in second.stdout
    keys = [r.key for r in read_topic(topic)]
    assert sorted(keys) == [b"10", b"20", b"20", b"30", b"30"]


def test_schedule_nothing_left(
    projects: str, bootstrap_servers: str, make_topic: Callable[..., str]
) -> None:
    topic = make_topic("schedule")
    result = invoke(
        projects,
        bootstrap_servers,
        topic,
        "--project-id",
        "10",
        "--skip-project-id",
        "10",
    )
    assert result.exit_code == 0, result.output
    assert "nothing to publish" in result.stdout


def test_schedule_delivery_failure(projects: str) -> None:
    # Nothing listens on this port, so every delivery times out.
    closed = f"127.0.0.1:{free_port()}"
    result = invoke(
        projects,
        closed,
        "t",
        "--project-id",
        "10",
        "-O",
        "producer:message.timeout.ms=1000",
    )
    assert result.exit_code == 1
    assert "failed: 1 messages" in result.stderr
    run_id = result.stdout.splitlines()[0].removeprefix("run id: ")
    assert f"run again with --run-id {run_id}" in result.stderr


def test_schedule_needs_one_source(projects: str, bootstrap_servers: str) -> None:
    result = invoke(
        projects, bootstrap_servers, "t", "--all-projects", "--project-id", "1"
    )
    assert result.exit_code == 2
    assert "exactly one source" in result.stderr


def test_schedule_worker_number_needs_total(
    projects: str, bootstrap_servers: str
) -> None:
    result = invoke(projects, bootstrap_servers, "t", "--worker-number", "1")
    assert result.exit_code == 2
    assert "--total-workers" in result.stderr


def test_schedule_bad_database(bootstrap_servers: str) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/none"
    result = invoke(url, bootstrap_servers, "t", "--project-id", "1")
    assert result.exit_code == 1
    assert "--database-url" in result.stderr


def test_schedule_empty_run_id_rejected() -> None:
    # Parsing fails before any connection, so no broker or database is needed.
    result = invoke(
        "postgresql://127.0.0.1:1/none", "127.0.0.1:1", "t", "--run-id", " "
    )
    assert result.exit_code == 2
    assert "--run-id" in result.stderr
    assert "is empty" in result.stderr


def _add_groups(database_url: str, project_id: int, count: int) -> list[int]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "INSERT INTO groups (project_id, first_seen, last_seen) "
            "SELECT %s, now(), now() FROM generate_series(1, %s) RETURNING id",
            (project_id, count),
        ).fetchall()
    return sorted(row[0] for row in rows)


def _ids(conn: psycopg.Connection[tuple[int]], project_id: int) -> list[int]:
    rows = conn.execute(
        "SELECT id FROM groups WHERE project_id = %s ORDER BY id", (project_id,)
    ).fetchall()
    return [row[0] for row in rows]


def test_split_points_count_from_the_lowest_id(projects: str) -> None:
    ids_10 = _add_groups(projects, 10, 25)
    _add_groups(projects, 20, 10)
    with psycopg.connect(projects) as conn:
        points = split_points(conn, [10, 20, 30], 10)
        assert points == {10: [ids_10[10], ids_10[20]]}
        # Newer groups leave the existing points where they are.
        _add_groups(projects, 10, 3)
        assert split_points(conn, [10], 10)[10][:2] == [ids_10[10], ids_10[20]]
        assert split_points(conn, [10], 0) == {}
        # One group per chain: every id but the lowest starts a chain.
        ids_20 = _ids(conn, 20)
        assert split_points(conn, [20], 1) == {20: ids_20[1:]}


def test_plan_splits_backfill_but_not_delete_or_cohorts(projects: str) -> None:
    _add_groups(projects, 10, 25)
    plan = plan_schedule(projects, RUN, project_ids=[10, 20], chain_groups=10)
    assert [c.project_id for c in plan.batches] == [10, 10, 10, 20]
    assert {c.chains for c in plan.batches if c.project_id == 10} == {3}
    delete = RunOptions(run_id="run-2", only_delete=True)
    plan = plan_schedule(projects, delete, project_ids=[10], chain_groups=10)
    assert [c.min_group_id for c in plan.batches] == [None]
    plan = plan_schedule(
        projects, RUN, project_ids=[10, 20], chain_groups=10, cohort_size=2
    )
    assert [c.min_group_id for c in plan.batches] == [None]


def _first_keys(database_url: str, run: RunOptions, **kwargs: Any) -> list[str]:
    plan = plan_schedule(database_url, run, project_ids=[10, 20], **kwargs)
    return sorted(c.batch_key for c in plan.batches + plan.already_started)


def test_run_scheduled_again_keeps_its_split(projects: str) -> None:
    _add_groups(projects, 10, 25)
    first = _first_keys(projects, RUN, chain_groups=10)
    assert len(first) == 4
    # Another value, or groups that arrived since, leave the split as it was.
    _add_groups(projects, 10, 30)
    assert _first_keys(projects, RUN, chain_groups=5) == first
    assert _first_keys(projects, RUN, chain_groups=0) == first
    unsplit = RunOptions(run_id="run-unsplit")
    assert len(_first_keys(projects, unsplit, chain_groups=0)) == 2
    assert len(_first_keys(projects, unsplit, chain_groups=5)) == 2


def test_dry_run_plan_stores_no_split(projects: str) -> None:
    _add_groups(projects, 10, 25)
    assert len(_first_keys(projects, RUN, chain_groups=10, remember=False)) == 4
    assert len(_first_keys(projects, RUN, chain_groups=5, remember=False)) == 6


def test_project_in_ledger_without_split_stays_one_chain(projects: str) -> None:
    _add_groups(projects, 10, 25)
    with psycopg.connect(projects, autocommit=True) as conn:
        ledger.claim(conn, ProjectBatch(run_id=RUN.run_id, project_id=10), "t:0:0", 60)
    plan = plan_schedule(projects, RUN, project_ids=[10, 20], chain_groups=10)
    assert [c.project_id for c in plan.batches] == [20]
    assert [c.min_group_id for c in plan.already_started] == [None]


def test_schedule_rate_limits_client_logs(projects: str) -> None:
    closed = f"127.0.0.1:{free_port()}"
    result = seer_backfill(
        "schedule",
        "--database-url",
        projects,
        "--bootstrap-servers",
        closed,
        "--project-id",
        "10",
        "-O",
        "producer:message.timeout.ms=4000",
    )
    assert result.returncode == 1
    client_lines = [line for line in result.stderr.splitlines() if "librdkafka" in line]
    # Unlimited, librdkafka logs about ten lines a second here.
    assert 1 <= len(client_lines) <= 4, client_lines


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--only-delete"], "--only-delete"),
        (["--cohort-size", "2"], "--cohort-size"),
    ],
)
def test_chain_groups_unused_warns(projects: str, args: list[str], flag: str) -> None:
    common = ["--project-id", "10", "--dry-run", *args]
    result = invoke(projects, "127.0.0.1:1", "t", *common, "--chain-groups", "5")
    assert result.exit_code == 0, result.output
    assert f"--chain-groups is not used with {flag}" in result.stderr
    quiet = invoke(projects, "127.0.0.1:1", "t", *common)
    assert "--chain-groups" not in quiet.stderr


# Values the consumer would reject never reach the topic.


@pytest.mark.parametrize(
    ("run_id", "detail"),
    [
        ("x" * 201, "a run id of 201 characters is invalid, because field 'run_id' "),
        ("run\tone", "'run\\tone' is invalid, because field 'run_id' must not"),
    ],
)
def test_schedule_invalid_run_id_exits_2(
    projects: str,
    bootstrap_servers: str,
    make_topic: Callable[..., str],
    read_topic: Callable[[str], list],  # type: ignore[type-arg]
    run_id: str,
    detail: str,
) -> None:
    topic = make_topic("schedule")
    result = invoke(
        projects, bootstrap_servers, topic, "--project-id", "10", "--run-id", run_id
    )
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--run-id'" in result.stderr
    assert detail in result.stderr
    assert "omit --run-id" in result.stderr
    assert read_topic(topic) == []


def test_schedule_longest_run_id_decodes(
    projects: str,
    bootstrap_servers: str,
    make_topic: Callable[..., str],
    read_topic: Callable[[str], list],  # type: ignore[type-arg]
) -> None:
    topic = make_topic("schedule")
    run_id = "x" * 200
    result = invoke(
        projects, bootstrap_servers, topic, "--project-id", "10", "--run-id", run_id
    )
    assert result.exit_code == 0, result.output
    assert [b.run_id for b in batches(read_topic(topic))] == [run_id]


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--project-id", str(2**63)], "--project-id"),
        (["--project-id", "10", "--skip-project-id", str(2**63)], "--skip-project-id"),
        (["--total-workers", str(2**63)], "--total-workers"),
        (["--project-id", "10", "--cohort-size", "10001"], "--cohort-size"),
    ],
)
def test_schedule_out_of_range_exits_2(args: list[str], flag: str) -> None:
    # Parsing fails before any connection, so no broker or database is needed.
    result = invoke("postgresql://127.0.0.1:1/none", "127.0.0.1:1", "t", *args)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{flag}'" in result.stderr


def test_schedule_too_many_skipped_exits_2() -> None:
    skipped = [arg for i in range(1, 10_002) for arg in ("--skip-project-id", str(i))]
    result = invoke(
        "postgresql://127.0.0.1:1/none", "127.0.0.1:1", "t", "--all-projects", *skipped
    )
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--skip-project-id'" in result.stderr
    assert "10001 distinct ids are over the limit of 10000" in result.stderr


def test_schedule_cohort_file_id_out_of_range(tmp_path: Path) -> None:
    cohort = tmp_path / "cohort.txt"
    cohort.write_text(f"10\n{2**63}\n")
    result = invoke(
        "postgresql://127.0.0.1:1/none",
        "127.0.0.1:1",
        "t",
        "--cohort-file",
        str(cohort),
    )
    assert result.exit_code == 2, result.output
    assert "Invalid value for --cohort-file" in result.stderr
    assert f"line 2: '{2**63}' is not a project id" in result.stderr


def test_schedule_invalid_project_row_exits_2(
    projects: str,
    bootstrap_servers: str,
    make_topic: Callable[..., str],
    read_topic: Callable[[str], list],  # type: ignore[type-arg]
) -> None:
    with psycopg.connect(projects, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO projects (id, organization_id, slug) VALUES (0, 1, 'zero')"
        )
    topic = make_topic("schedule")
    result = invoke(projects, bootstrap_servers, topic, "--all-projects")
    assert result.exit_code == 2, result.output
    assert "the message for project 0 of run" in result.stderr
    assert "invalid_field: project ids must be >= 1" in result.stderr
    assert "nothing was published" in result.stderr
    assert read_topic(topic) == []
