"""Fake clocks shared by tests of code that takes a `clock` callable."""

from __future__ import annotations


class SteppingClock:
    """A clock that moves `step` seconds forward on every read."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.now = 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now
