"""Start the services a benchmark run needs, and find their processes.

PostgreSQL is the embedded server (or a given URL) and the broker is an
embedded tansu. The Seer-compatible service runs as `seer-backfill seer-local`
in its own process, so its CPU time is measured apart from the consumer's.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
from psycopg import sql

from consumers.db.migrate import migrate
from consumers.embedded.broker import EmbeddedBroker
from consumers.embedded.postgres import EmbeddedPostgres
from consumers.kafka.config import KafkaOptions
from consumers.seer.service import DEFAULT_SCHEMA

logger = logging.getLogger(__name__)

# tansu needs short group sessions and a short fetch back-off; it also
# closes idle connections, which librdkafka would log every time.
TANSU_OPTIONS = (
    "consumer:session.timeout.ms=6000",
    "consumer:fetch.queue.backoff.ms=10",
    "log.connection.close=false",
)


def tansu_options() -> KafkaOptions:
    return KafkaOptions.parse(list(TANSU_OPTIONS))


# PostgreSQL application names of the processes under test, which the
# sampler uses to split the server's CPU time by client.
SEER_APPLICATION_NAME = "seer"
CONSUMER_APPLICATION_NAME = "consumer"


def client_environment(application_name: str) -> dict[str, str]:
    """This process's environment with libpq's `PGAPPNAME` set."""
    return {**os.environ, "PGAPPNAME": application_name}


def cli_path() -> str:
    """Return the `seer-backfill` script next to the running interpreter."""
    return str(Path(sys.executable).with_name("seer-backfill"))


def die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this (child) process when its parent dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except OSError:
        pass


@dataclass(frozen=True)
class SeerSettings:
    latency_ms: float = 50.0
    max_concurrency: int = 16


@dataclass
class Services:
    """The running services. `restart_seer` replaces the Seer process."""

    database_url: str
    bootstrap_servers: str
    seer: SeerSettings
    workdir: Path
    broker_process: psutil.Process | None
    postgres_process: psutil.Process | None
    seer_url: str = ""
    _seer: subprocess.Popen[str] | None = None

    @property
    def seer_process(self) -> psutil.Process | None:
        return psutil.Process(self._seer.pid) if self._seer is not None else None

    def restart_seer(self) -> None:
        """Start a fresh Seer-compatible service on an empty schema.

        Every measured step gets the same Seer: no records, no table
        statistics and no cached query plans from an earlier step.

        NOTE: a service kept running across a TRUNCATE of its tables spent 7
        to 100 times more PostgreSQL CPU time per record than a fresh one in
        this benchmark. The cause is not established; its pooled connections
        keep statements prepared against the earlier tables.
        """
        self.stop_seer()
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    sql.Identifier(DEFAULT_SCHEMA)
                )
            )
        self._seer, self.seer_url = _start_seer(
            self.database_url, self.seer, self.workdir / "seer-local.log"
        )

    def stop_seer(self) -> None:
        if self._seer is not None:
            _stop(self._seer)
            self._seer = None

    def seer_stats(self) -> dict[str, Any]:
        response = httpx.get(f"{self.seer_url}/_admin/stats", timeout=10)
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats


def grouping_requests(stats: dict[str, Any]) -> int:
    """Count the grouping-record requests with status 200 in a stats snapshot."""
    return int(stats.get("requests", {}).get("grouping_records", {}).get("200", 0))


def _find_broker(port: int) -> psutil.Process | None:
    marker = f"tcp://127.0.0.1:{port}"
    for child in psutil.Process().children(recursive=True):
        try:
            if marker in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


def _find_postmaster(database_url: str) -> psutil.Process | None:
    """Find the embedded server's postmaster: the postgres process of its folder."""
    if "host=" not in database_url:
        return None
    folder = database_url.split("host=", 1)[1].split("&", 1)[0]
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if process.info["name"] == "postgres" and "-D" in cmdline and folder in cmdline:
            return process
    return None


def _start_seer(
    database_url: str, settings: SeerSettings, log_path: Path
) -> tuple[subprocess.Popen[str], str]:
    command = [
        cli_path(),
        "seer-local",
        "--port",
        "0",
        "--database-url",
        database_url,
        "--latency-ms",
        str(settings.latency_ms),
        "--max-concurrency",
        str(settings.max_concurrency),
        # One connection per admitted request, so the pool adds no limit.
        "--pool-size",
        str(max(settings.max_concurrency, 1)),
        "--log-level",
        "warning",
    ]
    log = log_path.open("a")
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=client_environment(SEER_APPLICATION_NAME),
        preexec_fn=die_with_parent,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http://"):
        process.kill()
        raise RuntimeError(
            f"the Seer-compatible service did not start (log: {log_path}): "
            f"{log_path.read_text()[-2000:]}"
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/live", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the Seer-compatible service at {url} is not healthy")


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def start_services(
    workdir: Path, database_url: str | None, seer: SeerSettings
) -> Iterator[Services]:
    """Start what is not given, migrate the database, and stop it all on exit."""
    with ExitStack() as stack:
        if database_url is None:
            database_url = stack.enter_context(EmbeddedPostgres(workdir)).url
        migrate(database_url)
        broker = stack.enter_context(EmbeddedBroker())
        services = Services(
            database_url=database_url,
            bootstrap_servers=broker.bootstrap_servers,
            seer=seer,
            workdir=workdir,
            broker_process=_find_broker(broker.port),
            postgres_process=_find_postmaster(database_url),
        )
        stack.callback(services.stop_seer)
        services.restart_seer()
        logger.info(
            "services: broker %s, Seer %s (latency %.0f ms, %d at once)",
            services.bootstrap_servers,
            services.seer_url,
            seer.latency_ms,
            seer.max_concurrency,
        )
        yield services
