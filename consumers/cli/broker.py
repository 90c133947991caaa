"""`seer-backfill broker`: a local Kafka-protocol broker for trying things out."""

from __future__ import annotations

import signal
import threading

import click

from consumers.cli import options as opt


@click.command()
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    default=9092,
    show_default=True,
    help="TCP port on 127.0.0.1 to listen on; 0 picks a free port.",
)
@opt.log_level
def broker(port: int, log_level: str) -> None:
    """Run the embedded tansu broker in the foreground until SIGINT or SIGTERM.

    It keeps everything in memory, so topics and offsets are gone when it
    stops. Clients need `-O consumer:session.timeout.ms=6000` and
    `-O consumer:fetch.queue.backoff.ms=10` with it. Stopping it takes up
    to 5 s, because tansu often outlives SIGTERM and is then killed.

    Exit codes: 0 after SIGINT or SIGTERM, 1 when the port is taken or the
    broker dies, 2 usage error.
    """
    from consumers.embedded.broker import BrokerError, EmbeddedBroker

    opt.configure_logging(log_level)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.set())
    running = EmbeddedBroker(port=port or None)
    try:
        running.start()
    except BrokerError as e:
        raise click.ClickException(str(e)) from e
    click.echo(
        f"tansu broker listening on {running.bootstrap_servers}; Ctrl-C stops it"
    )
    try:
        while not stop.wait(1.0):
            if not running.alive():
                raise click.ClickException("the broker process exited")
    finally:
        running.stop()
