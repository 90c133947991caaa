"""A rate limit for repeated log lines, such as retry warnings during an outage.

During a Seer outage every in-flight request retries and each retry would
log a warning. A `LogThrottle` lets through at most one line per key per
interval and counts the rest. The next line that passes for the key reports
that count, so the log still shows how often the failure happened.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

DEFAULT_INTERVAL_SECONDS = 10.0


@dataclass
class _KeyState:
    next_line_at: float
    suppressed: int = 0


class LogThrottle:
    """A rate limit of at most one log line per key per `interval_seconds`.

    Lines dropped after the last line that passed are reported only when the
    key logs again, so the count of an outage's final interval can stay
    unreported. Safe to share between threads. `clock` returns seconds and must not go
    backwards, like the default `time.monotonic`; tests pass a fake one.
    Every key is kept for the life of the throttle, so keys should come from
    a small fixed set (an endpoint, a failure kind) and not contain request
    ids. Put the ids in the message instead.
    """

    def __init__(
        self,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval_seconds < 0:
            raise ValueError(
                f"Invalid log throttle interval {interval_seconds!r}: seconds "
                "must be >= 0 (0 lets every line through)."
            )
        self.interval_seconds = interval_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[Hashable, _KeyState] = {}

    def admit(self, key: Hashable) -> int | None:
        """Decide whether a line for `key` may be logged now.

        Returns None when the line must be dropped, which counts it as
        suppressed. Otherwise returns how many lines of `key` were suppressed
        since the previous admitted line, and starts a new interval.
        """
        now = self._clock()
        with self._lock:
            state = self._keys.get(key)
            if state is not None and now < state.next_line_at:
                state.suppressed += 1
                return None
            suppressed = 0 if state is None else state.suppressed
            self._keys[key] = _KeyState(next_line_at=now + self.interval_seconds)
            return suppressed

    def log(
        self,
        logger: logging.Logger,
        level: int,
        key: Hashable,
        message: str,
        *args: object,
    ) -> bool:
        """Log `message % args` at `level` unless `key` is throttled.

        A line that follows suppressed ones ends with their count. Returns
        whether the line was logged. The record names the caller as its source.
        A line of a level that `logger` drops still counts against the interval.
        """
        suppressed = self.admit(key)
        if suppressed is None:
            return False
        if suppressed:
            logger.log(
                level,
                message + " (%d similar lines suppressed since the previous one)",
                *args,
                suppressed,
                stacklevel=2,
            )
        else:
            logger.log(level, message, *args, stacklevel=2)
        return True
