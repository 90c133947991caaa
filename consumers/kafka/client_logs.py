"""librdkafka's log lines through Python logging, rate-limited.

While a broker is down, librdkafka logs every failed connection attempt,
and the consumer's client tries about ten times a second. The clients of
the consumer, of `schedule` and of the operations commands (`lag`,
`offsets`, `dlq` and the lag sampler) therefore log through
`client_logger`, which lets through one line per kind (librdkafka's
facility, such as FAIL) and thread (one per broker, and a few others)
every `INTERVAL_SECONDS`. The next line that passes reports how many
similar lines were dropped.

confluent-kafka (2.16) queues the lines in memory and hands them over only
when the client is served: `poll` or `flush`, a consumer's `poll` or
`close`. The consumer and Arroyo's producer thread poll all the time. An
`AdminClient`, and a consumer that is not polled, must be polled with
`poll(0)` now and then, or the queue grows while the broker is away.
"""

from __future__ import annotations

import logging
import re

from consumers.log_throttle import LogThrottle

LOGGER_NAME = "librdkafka"
INTERVAL_SECONDS = 10.0

# confluent-kafka writes "FACILITY [client] [thrd:thread]: text".
_THREAD_RE = re.compile(r"\[thrd:([^\]]*)\]")


class _ThrottleFilter(logging.Filter):
    """Drops the lines of a kind and thread that logged less than an
    interval ago, and adds the count of dropped lines to the next one."""

    def __init__(self, interval_seconds: float) -> None:
        super().__init__()
        self.throttle = LogThrottle(interval_seconds)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        facility = message.split(" ", 1)[0]
        thread = _THREAD_RE.search(message)
        suppressed = self.throttle.admit(
            (facility, thread.group(1) if thread else None)
        )
        if suppressed is None:
            return False
        if suppressed:
            record.msg = f"{message} ({suppressed} similar lines dropped)"
            record.args = ()
        return True


def client_logger() -> logging.Logger:
    """Return the logger for librdkafka clients, with its rate limit."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(f, _ThrottleFilter) for f in logger.filters):
        logger.addFilter(_ThrottleFilter(INTERVAL_SECONDS))
    return logger
