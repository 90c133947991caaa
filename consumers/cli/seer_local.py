"""`seer-backfill seer-local`: run the Seer-compatible service in the foreground."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

import click
import psycopg

from consumers.cli import options
from consumers.seer.service import DEFAULT_SCHEMA, FaultConfig, SeerService

logger = logging.getLogger(__name__)


@click.command("seer-local")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind. The /_admin endpoints have no authentication, "
    "so keep this on loopback.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=9091,
    show_default=True,
    help="TCP port to listen on; 0 picks a free port.",
)
@options.database_url
@options.seer_secret
@click.option(
    "--schema",
    default=DEFAULT_SCHEMA,
    show_default=True,
    help="PostgreSQL schema of the records table, created on start.",
)
@click.option(
    "--pool-size",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Maximum PostgreSQL connections.",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Delay added to every Seer request, in milliseconds.",
)
@click.option(
    "--latency-jitter-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Extra random delay per request, uniform in [0, value], in milliseconds.",
)
@click.option(
    "--error-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of Seer requests (0 to 1) that get an --error-status response.",
)
@click.option(
    "--error-status",
    type=click.IntRange(400, 599),
    default=503,
    show_default=True,
    help="HTTP status of injected errors.",
)
@click.option(
    "--retry-after-seconds",
    type=click.IntRange(min=0),
    default=None,
    help="Send this Retry-After, in seconds, with injected errors and "
    "overload rejections.",
)
@click.option(
    "--hang-seconds",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Delay the response of hanging requests by this many seconds; 0 is off.",
)
@click.option(
    "--hang-forever",
    is_flag=True,
    help="Never answer hanging requests (the connection closes at shutdown).",
)
@click.option(
    "--hang-rate",
    type=click.FloatRange(0, 1),
    default=1.0,
    show_default=True,
    help="Share of Seer requests (0 to 1) that hang when a hang is set.",
)
@click.option(
    "--max-concurrency",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seer requests handled at once; 0 is unlimited.",
)
@click.option(
    "--overload",
    type=click.Choice(["wait", "reject"]),
    default="wait",
    show_default=True,
    help="What requests beyond --max-concurrency get: wait for a slot, or 503.",
)
@click.option(
    "--fault-phase",
    type=click.Choice(["before", "after"]),
    default="before",
    show_default=True,
    help="Inject errors and hangs before handling a request, or after storing "
    "its records (the client sees a failure for work that was done).",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed of the fault draws, for reproducible runs.",
)
@options.log_level
def seer_local(
    host: str,
    port: int,
    database_url: str,
    seer_secret: str | None,
    schema: str,
    pool_size: int,
    latency_ms: float,
    latency_jitter_ms: float,
    error_rate: float,
    error_status: int,
    retry_after_seconds: int | None,
    hang_seconds: float,
    hang_forever: bool,
    hang_rate: float,
    max_concurrency: int,
    overload: str,
    fault_phase: str,
    seed: int | None,
    log_level: str,
) -> None:
    """Run a Seer-compatible similarity service backed by PostgreSQL.

    Serves Seer's grouping-record, delete, delete-by-hash and similar-issues
    endpoints, plus /health/live, /_admin/stats and /_admin/faults (POST a
    JSON object of fault settings to change them at run time). Prints the
    base URL on stdout once listening and runs until SIGINT or SIGTERM.

    Keys of POST /_admin/faults (any subset; GET returns them all; a bad
    key or value gets 400 and changes nothing):

    \b
      latency_ms          >= 0, milliseconds added to every request
      latency_jitter_ms   >= 0, milliseconds, uniform extra delay [0, value]
      error_rate          0..1, share of requests answered with error_status
      error_status        400..599, HTTP status of injected errors
      fail_next           >= 0, next N requests get error_status
      retry_after_seconds >= 0 or null, Retry-After header on errors
      hang_seconds        >= 0, seconds a hung request waits
      hang_forever        true/false, hung requests never get a response
      hang_rate           0..1, share of requests that hang
      max_concurrency     >= 0 (0: unlimited), requests handled at once
      overload            "wait" or "reject" (503) past max_concurrency
      fault_phase         "before" or "after" handling the request
      seed                integer or null, seed of the fault draws

    Exit codes: 0 after SIGINT or SIGTERM, 1 when the service cannot start
    (port in use, database unreachable), 2 usage error.
    """
    options.configure_logging(log_level)
    faults = FaultConfig(
        latency_ms=latency_ms,
        latency_jitter_ms=latency_jitter_ms,
        error_rate=error_rate,
        error_status=error_status,
        retry_after_seconds=retry_after_seconds,
        hang_seconds=hang_seconds,
        hang_forever=hang_forever,
        hang_rate=hang_rate,
        max_concurrency=max_concurrency,
        overload="reject" if overload == "reject" else "wait",
        fault_phase="after" if fault_phase == "after" else "before",
        seed=seed,
    )
    service = SeerService(
        database_url,
        host,
        port,
        secret=seer_secret,
        faults=faults,
        schema=schema,
        pool_size=pool_size,
    )
    try:
        url = service.start()
    except (OSError, psycopg.Error) as error:
        # psycopg's connection errors span several lines.
        reason = " ".join(str(error).split())
        click.echo(f"Error: Seer-compatible service did not start: {reason}", err=True)
        sys.exit(1)

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        logger.info("Received signal %d; stopping", signum)
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    click.echo(url)
    while not stop.wait(0.5):
        pass
    service.stop()
