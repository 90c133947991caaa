"""Request counters of the local Seer service, served at `/_admin/stats`."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

# Status label of a request whose connection was closed without a response.
NO_RESPONSE = "no_response"


@dataclass(frozen=True)
class StatsSnapshot:
    """Counts since start or the last reset.

    `requests` maps route name -> status code (as a string, or
    `NO_RESPONSE`) -> count. `in_flight` and `max_in_flight` count requests
    to Seer's API endpoints being served, including those waiting for a
    concurrency slot. `max_per_second` is the most API requests that arrived
    within any one-second window, the figure a client's rate ceiling bounds.
    """

    requests: dict[str, dict[str, int]]
    in_flight: int
    max_in_flight: int
    records: int
    max_per_second: int = 0

    def count(self, route: str, status: int | str) -> int:
        return self.requests.get(route, {}).get(str(status), 0)

    def to_json(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "max_per_second": self.max_per_second,
            "records": self.records,
        }


class ServiceStats:
    """Thread-safe counters of requests by route and status, and of concurrency."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._condition = threading.Condition()
        self._requests: dict[str, dict[str, int]] = defaultdict(
            lambda: defaultdict(int)
        )
        self._in_flight = 0
        self._max_in_flight = 0
        # Arrival times of the API requests of the last second, oldest first.
        self._arrivals: deque[float] = deque()
        self._max_per_second = 0

    def record(self, route: str, status: int | str) -> None:
        with self._condition:
            self._requests[route][str(status)] += 1

    def enter(self) -> None:
        now = self._clock()
        with self._condition:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            arrivals = self._arrivals
            arrivals.append(now)
            while now - arrivals[0] >= 1.0:
                arrivals.popleft()
            self._max_per_second = max(self._max_per_second, len(arrivals))

    def exit(self) -> None:
        with self._condition:
            self._in_flight -= 1
            self._condition.notify_all()

    def wait_idle(self, timeout_seconds: float) -> bool:
        """Wait until no API request is in flight; return False on timeout."""
        deadline = time.monotonic() + timeout_seconds
        with self._condition:
            while self._in_flight > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(remaining)
        return True

    def reset(self) -> None:
        with self._condition:
            self._requests.clear()
            self._max_in_flight = self._in_flight
            self._arrivals.clear()
            self._max_per_second = 0

    def snapshot(self, records: int) -> StatsSnapshot:
        with self._condition:
            requests = {
                route: dict(statuses) for route, statuses in self._requests.items()
            }
            return StatsSnapshot(
                requests=requests,
                in_flight=self._in_flight,
                max_in_flight=self._max_in_flight,
                records=records,
                max_per_second=self._max_per_second,
            )
