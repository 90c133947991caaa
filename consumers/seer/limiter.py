"""Client-side throttles shared by every thread that uses one `SeerClient`.

`RateLimiter` caps requests per second; `ConcurrencyLimiter` caps requests in
flight. Both block the calling thread and are safe to share across threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class RateLimiter:
    """A token bucket: at most `burst + rate * t` grants in any `t` seconds.

    Implemented as the generic cell rate algorithm: each grant reserves the
    next free slot on a virtual schedule spaced `1 / rate` seconds apart, so
    waiting threads are served in arrival order and the lock is held only to
    compute the slot. `burst` is the bucket size: how many requests may go
    at once after an idle period (1 keeps requests evenly spaced).
    """

    def __init__(
        self,
        rate_per_second: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError(
                f"Invalid rate {rate_per_second!r}: requests per second must be > 0."
            )
        if burst < 1:
            raise ValueError(f"Invalid burst {burst!r}: it must be at least 1.")
        self.rate_per_second = rate_per_second
        self.burst = burst
        self._interval = 1.0 / rate_per_second
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        # Theoretical arrival time of the next request on the virtual schedule.
        self._next_arrival = clock()

    def reserve(self) -> float:
        """Reserve a slot and return how long the caller must wait for it."""
        with self._lock:
            now = self._clock()
            arrival = max(self._next_arrival, now)
            start = arrival - self._tolerance
            self._next_arrival = arrival + self._interval
        return max(0.0, start - now)

    def acquire(self) -> float:
        """Block until the caller may send one request; return the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


class ConcurrencyLimiter:
    """A bounded semaphore counting requests in flight."""

    def __init__(self, max_concurrency: int) -> None:
        if max_concurrency < 1:
            raise ValueError(
                f"Invalid max concurrency {max_concurrency!r}: it must be at least 1."
            )
        self.max_concurrency = max_concurrency
        self._semaphore = threading.BoundedSemaphore(max_concurrency)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the `max_concurrency` slots for the `with` block."""
        with self._semaphore:
            yield
