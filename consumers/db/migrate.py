"""Apply the idempotent schema in `schema.sql`."""

from __future__ import annotations

import logging
from importlib import resources

import psycopg

logger = logging.getLogger(__name__)

# Serialises concurrent `db migrate` runs, because CREATE ... IF NOT EXISTS
# can still race on the catalog.
_MIGRATION_LOCK_ID = 0x5EE8_BAC4


def schema_sql() -> str:
    return resources.files("consumers.db").joinpath("schema.sql").read_text("utf-8")


def migrate(database_url: str) -> None:
    """Create every table and index of the schema that is missing."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK_ID,))
        try:
            conn.execute(schema_sql().encode("utf-8"))
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK_ID,))
    logger.info("database schema is up to date")
