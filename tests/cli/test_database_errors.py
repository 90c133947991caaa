"""Connection failures and a missing schema end in one `Error:` line, exit 1."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result
from psycopg import sql

from consumers.cli.main import cli
from tests.conftest import ADMIN_URL, _database_url
from tests.pipeline.conftest import (
    create_test_topics,
    last_stderr_line,
    seer_backfill,
)


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A database of its own without the schema (`db migrate` never ran)."""
    name = f"seer_backfill_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _database_url(name)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )


def missing_database_url() -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    scheme, _, rest = base.partition("://")
    user, _, host = rest.rpartition("@")
    # A password in the URL must never reach the output.
    user = (user.partition(":")[0] or "postgres") + ":s3cret-pw"
    return f"{scheme}://{user}@{host}/does_not_exist_{uuid.uuid4().hex[:8]}"


def run_consumer(
    bootstrap_servers: str, database_url: str
) -> subprocess.CompletedProcess[str]:
    """Run `seer-backfill run` on `database_url`, with a Seer URL never reached."""
    topics = create_test_topics(bootstrap_servers)
    return seer_backfill(
        "run",
        "--bootstrap-servers",
        bootstrap_servers,
        "--topic",
        topics.input,
        "--dlq-topic",
        topics.dlq,
        "--outcomes-topic",
        topics.outcomes,
        "--database-url",
        database_url,
        "--seer-url",
        "http://127.0.0.1:9",
    )


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_migrate_missing_database_clean_error() -> None:
    url = missing_database_url()
    result = invoke("db", "migrate", "--database-url", url)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.startswith(
        "Error: cannot connect to database 'does_not_exist_"
    )
    assert "create the database" in result.stderr
    assert "check --database-url" in result.stderr
    assert "s3cret-pw" not in result.output
    assert "Traceback" not in result.output


def test_migrate_refused_port_clean_error() -> None:
    url = "postgresql://postgres:s3cret-pw@127.0.0.1:1/seer"
    result = invoke("db", "migrate", "--database-url", url)
    assert result.exit_code == 1, result.output
    assert "Error: cannot connect to database 'seer' on 127.0.0.1:1" in result.stderr
    assert "that the server is running" in result.stderr
    # Creating the database does not help when the server cannot be reached.
    assert "createdb" not in result.stderr
    assert "s3cret-pw" not in result.output


def test_schedule_missing_database_clean_error() -> None:
    url = missing_database_url()
    result = invoke("schedule", "--project-id", "1", "--dry-run", "--database-url", url)
    assert result.exit_code == 1, result.output
    assert "Error: cannot connect to database 'does_not_exist_" in result.stderr
    assert "s3cret-pw" not in result.output


def test_schedule_without_schema_suggests_migrate(empty_database: str) -> None:
    result = invoke(
        "schedule", "--all-projects", "--dry-run", "--database-url", empty_database
    )
    assert result.exit_code == 1, result.output
    assert "Error: relation" in result.stderr
    assert "run `seer-backfill db migrate`" in result.stderr


def test_ingest_without_schema_suggests_migrate(
    empty_database: str, tmp_path: Path
) -> None:
    event = {"event_id": uuid.uuid4().hex, "platform": "python", "message": "boom"}
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event), "utf-8")
    result = invoke(
        "ingest", str(path), "--project-id", "1", "--database-url", empty_database
    )
    assert result.exit_code == 1, result.output
    assert "Error: relation" in result.stderr
    assert "run `seer-backfill db migrate`" in result.stderr
    assert "Traceback" not in result.output


def test_run_missing_database_clean_error(bootstrap_servers: str) -> None:
    url = missing_database_url()
    result = run_consumer(bootstrap_servers, url)
    assert result.returncode == 1, result.stderr
    last_line = last_stderr_line(result)
    assert last_line.startswith("Error: cannot connect to database 'does_not_exist_")
    assert "create the database" in last_line
    assert "s3cret-pw" not in result.stderr
    assert "Traceback" not in result.stderr


def test_run_without_schema_suggests_migrate(
    bootstrap_servers: str, empty_database: str
) -> None:
    result = run_consumer(bootstrap_servers, empty_database)
    assert result.returncode == 1, result.stderr
    last_line = last_stderr_line(result)
    assert last_line.startswith("Error: relation")
    assert "run `seer-backfill db migrate`" in last_line
