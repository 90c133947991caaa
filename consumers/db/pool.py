"""A shared psycopg connection pool for the stages that run in threads."""

from __future__ import annotations

import logging

from psycopg_pool import ConnectionPool

logger = logging.getLogger(__name__)


def open_pool(database_url: str, *, max_size: int, name: str) -> ConnectionPool:
    """Open a pool of autocommit-off connections and wait until one works.

    Raises `psycopg_pool.PoolTimeout` when the database cannot be reached
    within 30 seconds, so a consumer with a wrong URL fails at start.
    """
    pool = ConnectionPool(
        database_url,
        min_size=1,
        max_size=max_size,
        name=name,
        open=True,
        timeout=60.0,
    )
    pool.wait(timeout=30.0)
    logger.info("connection pool %s open (max %d connections)", name, max_size)
    return pool
