"""Waiting at start-up until a Kafka broker responds.

Kafka clients retry an unreachable broker forever, and librdkafka logs every
failed connection attempt. A consumer started with a wrong address would run
without consuming anything and flood its log. `wait_for_brokers` requests
cluster metadata until a broker responds or a deadline passes, logs one line
at once and then every few seconds while it waits, and raises
`BrokersUnreachable` with the last connection error at the deadline.
"""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from consumers.kafka.config import NO_OPTIONS, KafkaOptions, admin_config

logger = logging.getLogger(__name__)

# Seconds between the lines logged while waiting, and the longest single
# metadata request, so that a broker that comes up is noticed quickly.
PROGRESS_INTERVAL_SECONDS = 10.0
_ATTEMPT_SECONDS = 1.0


class BrokersUnreachable(Exception):
    """No broker of ``bootstrap_servers`` responded within ``timeout_seconds``.

    ``reason`` is librdkafka's last connection error, or its metadata error
    when it logged none.
    """

    def __init__(self, bootstrap_servers: str, timeout_seconds: float, reason: str):
        super().__init__(
            f"no Kafka broker at {bootstrap_servers} responded within "
            f"{timeout_seconds:g} s: {reason}"
        )
        self.bootstrap_servers = bootstrap_servers
        self.timeout_seconds = timeout_seconds
        self.reason = reason


class _LastMessage(logging.Handler):
    """A log handler that keeps only the last message that librdkafka logged."""

    def __init__(self) -> None:
        super().__init__()
        self.message: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        # Drop the "FAC [client] [thread]: " prefix of librdkafka's messages.
        self.message = record.getMessage().rsplit("]: ", 1)[-1]


def wait_for_brokers(
    bootstrap_servers: str,
    timeout_seconds: float,
    options: KafkaOptions = NO_OPTIONS,
    *,
    stop: threading.Event | None = None,
) -> bool:
    """Return True once a broker responds to a metadata request.

    Returns False, within about a second, once ``stop`` is set: a shutdown
    requested during the wait is not a failure. Raises `BrokersUnreachable`
    after ``timeout_seconds``; 0 waits forever.
    """
    # librdkafka's own messages go to a logger that keeps only the last one
    # for the error, instead of to stderr.
    quiet = logging.getLogger(f"{__name__}.librdkafka")
    quiet.propagate = False
    quiet.setLevel(logging.WARNING)
    last = _LastMessage()
    quiet.addHandler(last)
    config = admin_config(bootstrap_servers, options)
    config["logger"] = quiet
    admin = AdminClient(config)
    started = time.monotonic()
    # The first failed attempt is reported at once, then one line per interval.
    next_progress = started
    try:
        while stop is None or not stop.is_set():
            try:
                admin.list_topics(timeout=_ATTEMPT_SECONDS)
                return True
            except KafkaException as error:
                # Serves the queued log callbacks, so `last` is current.
                admin.poll(0)
                reason = last.message or str(error.args[0].str())
            now = time.monotonic()
            if timeout_seconds and now - started >= timeout_seconds:
                raise BrokersUnreachable(bootstrap_servers, timeout_seconds, reason)
            if now >= next_progress:
                logger.warning(
                    "waiting for a Kafka broker at %s for %.0f s: %s",
                    bootstrap_servers,
                    now - started,
                    reason,
                )
                next_progress = now + PROGRESS_INTERVAL_SECONDS
        return False
    finally:
        quiet.removeHandler(last)
