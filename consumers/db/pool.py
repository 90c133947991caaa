"""A shared psycopg connection pool for the stages that run in threads."""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

logger = logging.getLogger(__name__)

# Seconds a first connection may take before the consumer gives up at start.
CONNECT_TIMEOUT_SECONDS = 10


def open_pool(
    database_url: str,
    *,
    max_size: int,
    name: str,
    wait_seconds: float = 30.0,
    required_tables: tuple[str, ...] = (),
) -> ConnectionPool:
    """Open a pool of autocommit-off connections and wait until one works.

    A first connection is made directly, so a wrong URL, a missing database
    or a refused connection raises `psycopg.OperationalError` at once with
    the server's reason, and a missing table of `required_tables` raises
    `psycopg.errors.UndefinedTable`. Raises `psycopg_pool.PoolTimeout` when
    the pool has no working connection within `wait_seconds`; the pool is
    then closed.
    """
    with psycopg.connect(database_url, connect_timeout=CONNECT_TIMEOUT_SECONDS) as conn:
        for table in required_tables:
            conn.execute(
                sql.SQL("SELECT 1 FROM {} LIMIT 0").format(sql.Identifier(table))
            )
    pool = ConnectionPool(
        database_url,
        min_size=1,
        max_size=max_size,
        name=name,
        open=True,
        timeout=60.0,
    )
    try:
        pool.wait(timeout=wait_seconds)
    except BaseException:
        pool.close()
        raise
    logger.info("connection pool %s open (max %d connections)", name, max_size)
    return pool
