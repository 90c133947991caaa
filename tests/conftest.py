"""Session fixtures: a real tansu broker and a fresh PostgreSQL database.

The database comes from the PostgreSQL server named by
`SEER_BACKFILL_TEST_ADMIN_URL` (default: the local server on 127.0.0.1:5432).
Each test session creates its own database and drops it at the end, so runs
never see each other's rows.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from consumers.db.migrate import migrate
from consumers.embedded.broker import EmbeddedBroker

ADMIN_URL = os.environ.get(
    "SEER_BACKFILL_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


@pytest.fixture(scope="session")
def bootstrap_servers(broker: EmbeddedBroker) -> str:
    return broker.bootstrap_servers


def _database_url(name: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


@contextlib.contextmanager
def _migrated_database() -> Iterator[str]:
    """Create a migrated database of its own; drop it on exit."""
    name = f"seer_backfill_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _database_url(name)
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A migrated database of its own for this test session."""
    with _migrated_database() as url:
        yield url


@pytest.fixture
def own_database() -> Iterator[str]:
    """A migrated database for this test alone, for rows other tests must not see."""
    with _migrated_database() as url:
        yield url


@pytest.fixture
def clean_database(database_url: str) -> str:
    """The session database with every table emptied before the test."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        # The local Seer service keeps its records in its own schema.
        tables = conn.execute(
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname IN ('public', 'seer_local')"
        ).fetchall()
        if tables:
            conn.execute(
                sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                    sql.SQL(", ").join(sql.Identifier(*t) for t in tables)
                )
            )
    return database_url
