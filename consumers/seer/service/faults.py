"""Fault injection for the local Seer service: latency, errors, hangs, overload.

Faults apply to Seer's API endpoints only, never to `/health/live` or the
`/_admin/` endpoints. With a seed, the sequence of decisions is the same on
every run, so request `n` (in arrival order) always draws the same latency,
error and hang. Every decision draws three numbers from one seeded
generator, whatever the knobs are set to.
"""

from __future__ import annotations

import dataclasses
import math
import random
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

Overload = Literal["wait", "reject"]
FaultPhase = Literal["before", "after"]


@dataclass(frozen=True)
class FaultConfig:
    """The fault knobs. Durations are in the unit their name ends with.

    - `latency_ms`, `latency_jitter_ms`: every request sleeps `latency_ms`
      plus a uniform draw in `[0, latency_jitter_ms]` before it is handled.
    - `error_rate` (0..1): share of requests that get an `error_status` response.
      `fail_next` answers the next N requests with `error_status` whatever the
      rate. `retry_after_seconds` adds a `Retry-After` header to those errors
      and to overload rejections.
    - `hang_seconds` delays the response of a share `hang_rate` of requests
      by that many seconds. With `hang_forever` those requests get no response
      at all until the service stops and closes the connection.
    - `max_concurrency` (0: unlimited) caps requests handled at once; extra
      requests wait for a slot (`overload="wait"`) or get 503 (`"reject"`).
    - `fault_phase="before"` injects errors and hangs before the request is
      handled (nothing stored); `"after"` handles it first, so records are
      stored and the client sees the error or the hang.
    - `seed` makes the draws reproducible; None seeds from the OS.
    """

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    fail_next: int = 0
    retry_after_seconds: int | None = None
    hang_seconds: float = 0.0
    hang_forever: bool = False
    hang_rate: float = 1.0
    max_concurrency: int = 0
    overload: Overload = "wait"
    fault_phase: FaultPhase = "before"
    seed: int | None = None

    def __post_init__(self) -> None:
        _check_range("latency_ms", self.latency_ms, 0.0, math.inf)
        _check_range("latency_jitter_ms", self.latency_jitter_ms, 0.0, math.inf)
        _check_range("error_rate", self.error_rate, 0.0, 1.0)
        _check_range("hang_seconds", self.hang_seconds, 0.0, math.inf)
        _check_range("hang_rate", self.hang_rate, 0.0, 1.0)
        if not 400 <= self.error_status <= 599:
            raise ValueError(
                f"Invalid error_status {self.error_status!r}: use an HTTP status "
                "from 400 to 599."
            )
        if self.fail_next < 0 or self.max_concurrency < 0:
            raise ValueError(
                f"Invalid fail_next {self.fail_next!r} or max_concurrency "
                f"{self.max_concurrency!r}: both must be >= 0."
            )
        if self.retry_after_seconds is not None and self.retry_after_seconds < 0:
            raise ValueError(
                f"Invalid retry_after_seconds {self.retry_after_seconds!r}: "
                "must be >= 0."
            )
        if self.overload not in ("wait", "reject"):
            raise ValueError(
                f"Invalid overload {self.overload!r}: use 'wait' or 'reject'."
            )
        if self.fault_phase not in ("before", "after"):
            raise ValueError(
                f"Invalid fault_phase {self.fault_phase!r}: use 'before' or 'after'."
            )

    @property
    def hangs(self) -> bool:
        return self.hang_forever or self.hang_seconds > 0

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    def updated(self, changes: Mapping[str, object]) -> FaultConfig:
        """Return a copy with `changes` applied, or raise ValueError on a bad field.

        Accepts JSON values: an integer where a float is expected is fine, a
        boolean where a number is expected is not.
        """
        values: dict[str, object] = {}
        for name, value in changes.items():
            kind = _FIELD_KINDS.get(name)
            if kind is None:
                known = ", ".join(_FIELD_KINDS)
                raise ValueError(f"Unknown fault setting {name!r}. Known: {known}.")
            values[name] = _coerce(name, kind, value)
        return dataclasses.replace(self, **values)  # type: ignore[arg-type]


# JSON type of each FaultConfig field. A trailing "?" allows null.
_FIELD_KINDS: dict[str, str] = {
    "latency_ms": "number",
    "latency_jitter_ms": "number",
    "error_rate": "number",
    "error_status": "integer",
    "fail_next": "integer",
    "retry_after_seconds": "integer?",
    "hang_seconds": "number",
    "hang_forever": "boolean",
    "hang_rate": "number",
    "max_concurrency": "integer",
    "overload": "string",
    "fault_phase": "string",
    "seed": "integer?",
}


def _check_range(name: str, value: float, low: float, high: float) -> None:
    # Infinity is rejected too: JSON cannot carry it back in the settings,
    # and `hang_forever` is the way to ask for no response.
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(
            f"Invalid {name} {value!r}: must be a finite number within [{low}, {high}]."
        )


def _coerce(name: str, kind: str, value: object) -> object:
    if value is None:
        if kind.endswith("?"):
            return None
        raise ValueError(f"Invalid {name}: null is not allowed.")
    kind = kind.removesuffix("?")
    if kind == "boolean" and isinstance(value, bool):
        return value
    if isinstance(value, bool):
        raise ValueError(f"Invalid {name} {value!r}: expected a {kind}.")
    if kind == "integer" and isinstance(value, int):
        return value
    if kind == "number" and isinstance(value, int | float):
        return float(value)
    if kind == "string" and isinstance(value, str):
        return value
    raise ValueError(f"Invalid {name} {value!r}: expected a {kind}.")


@dataclass(frozen=True)
class FaultDecision:
    """The faults drawn for one request.

    `hang_seconds` is None for no hang and `math.inf` for no response.
    """

    delay_seconds: float
    error_status: int | None
    hang_seconds: float | None
    phase: FaultPhase
    retry_after_seconds: int | None


class FaultInjector:
    """A thread-safe source of `FaultDecision`s and of concurrency slots."""

    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self._config = config
        self._random = random.Random(config.seed)
        self._fail_next = config.fail_next
        self._slots = _slots_for(config)

    @property
    def config(self) -> FaultConfig:
        with self._lock:
            return dataclasses.replace(self._config, fail_next=self._fail_next)

    def configure(self, config: FaultConfig) -> None:
        """Replace the knobs, re-seed the draws and restart the `fail_next` count.

        Requests already waiting for or holding a concurrency slot keep the
        old limit, and new requests see the new one.
        """
        with self._lock:
            self._config = config
            self._random = random.Random(config.seed)
            self._fail_next = config.fail_next
            self._slots = _slots_for(config)

    def decide(self) -> FaultDecision:
        with self._lock:
            config = self._config
            jitter_draw = self._random.random()
            error_draw = self._random.random()
            hang_draw = self._random.random()
            forced_error = self._fail_next > 0
            if forced_error:
                self._fail_next -= 1
        delay_ms = config.latency_ms + jitter_draw * config.latency_jitter_ms
        failed = forced_error or error_draw < config.error_rate
        hang: float | None = None
        if config.hangs and hang_draw < config.hang_rate:
            hang = math.inf if config.hang_forever else config.hang_seconds
        return FaultDecision(
            delay_seconds=delay_ms / 1000.0,
            error_status=config.error_status if failed else None,
            hang_seconds=hang,
            phase=config.fault_phase,
            retry_after_seconds=config.retry_after_seconds,
        )

    @contextmanager
    def slot(self, stopping: threading.Event) -> Iterator[bool]:
        """Hold a concurrency slot for the block, or yield False when rejected.

        In "wait" mode the caller blocks until a slot frees up or the service
        stops (then it yields False too).
        """
        with self._lock:
            slots = self._slots
            overload = self._config.overload
        if slots is None:
            yield True
            return
        if overload == "reject":
            admitted = slots.acquire(blocking=False)
        else:
            admitted = False
            while not admitted and not stopping.is_set():
                admitted = slots.acquire(timeout=0.1)
        try:
            yield admitted
        finally:
            if admitted:
                slots.release()


def _slots_for(config: FaultConfig) -> threading.BoundedSemaphore | None:
    if config.max_concurrency <= 0:
        return None
    return threading.BoundedSemaphore(config.max_concurrency)
