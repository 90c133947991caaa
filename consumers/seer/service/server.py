"""The local Seer-compatible HTTP service: routing, signatures, faults, lifecycle.

Endpoints (Seer's, under the `v0` model version):

    POST /v0/issues/similar-issues/grouping-record
    GET  /v0/issues/similar-issues/grouping-record/delete/<project_id>
    POST /v0/issues/similar-issues/grouping-record/delete-by-hash
    POST /v0/issues/similar-issues

and the service's own, which skip faults and signatures and so must stay
on a loopback or otherwise trusted address:

    GET  /health/live           200 while the service runs
    GET  /_admin/stats          request counts by route and status, records stored
    POST /_admin/stats/reset    zero the request counts
    GET  /_admin/faults         the fault knobs
    POST /_admin/faults         change some knobs: a JSON object of FaultConfig fields

With a shared secret, every Seer endpoint (the GET delete too, which real
Seer leaves unsigned) requires `Authorization: Rpcsignature rpc0:<hex>` over
the raw body, and responds 401 otherwise.
"""

from __future__ import annotations

import logging
import socket
import threading

from consumers.seer.service.api import SeerApi
from consumers.seer.service.faults import FaultConfig, FaultInjector
from consumers.seer.service.handler import Server
from consumers.seer.service.stats import ServiceStats, StatsSnapshot
from consumers.seer.service.store import DEFAULT_SCHEMA, RecordStore
from consumers.seer.signing import verify_authorization

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024


class SeerService:
    """A Seer-compatible service on a real socket, backed by PostgreSQL.

    `start` creates the records table when missing, binds `host:port` (port
    0 picks a free port) and returns the base URL; `stop` closes every
    connection, including requests held by a hang fault, and the database
    pool. Use it as a context manager in tests. A stopped service cannot be
    started again.
    """

    def __init__(
        self,
        database_url: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        secret: str | None = None,
        faults: FaultConfig | None = None,
        schema: str = DEFAULT_SCHEMA,
        pool_size: int = 10,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.host = host
        self.port = port
        self.max_body_bytes = max_body_bytes
        self._secret = secret
        self.store = RecordStore(database_url, schema=schema, pool_size=pool_size)
        self.api = SeerApi(self.store)
        self.injector = FaultInjector(faults or FaultConfig())
        self.counters = ServiceStats()
        self.stopping = threading.Event()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("SeerService is not started; call start() first.")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def requires_signature(self) -> bool:
        return bool(self._secret)

    def start(self) -> str:
        if self._server is not None or self.stopping.is_set():
            raise RuntimeError("SeerService.start() may be called once.")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self.store.open()
        try:
            server = Server((self.host, self.port), self, family)
        except OSError:
            self.store.close()
            raise
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"seer-local:{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.info(
            "Seer-compatible service listening on %s (records in schema %s, "
            "signatures %s)",
            self.url,
            self.store.schema,
            "required" if self._secret else "not checked",
        )
        return self.url

    def stop(self) -> None:
        server = self._server
        if server is None or self.stopping.is_set():
            self.stopping.set()
            return
        self.stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if not self.counters.wait_idle(timeout_seconds=5.0):
            logger.warning("Seer-compatible service stopped with requests in flight")
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self.store.close()
        logger.info("Seer-compatible service on %s stopped", self.url)

    def __enter__(self) -> SeerService:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def faults(self) -> FaultConfig:
        return self.injector.config

    def set_faults(self, faults: FaultConfig) -> None:
        self.injector.configure(faults)
        logger.info("Seer-compatible service faults set to %s", faults)

    def update_faults(self, **changes: object) -> FaultConfig:
        """Change some fault knobs, as `POST /_admin/faults` does; return the result."""
        faults = self.injector.config.updated(changes)
        self.set_faults(faults)
        return faults

    def stats(self) -> StatsSnapshot:
        return self.counters.snapshot(records=self.store.count())

    def reset_stats(self) -> None:
        self.counters.reset()

    def check_signature(self, body: bytes, header: str | None) -> bool:
        return not self._secret or verify_authorization(self._secret, body, header)
