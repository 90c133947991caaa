"""A bounded memo that keeps what is in use, for grouping's per-frame results.

Grouping remembers results per distinct frame. Emptying a full memo at once
would also drop the library frames that nearly every event has, and they
would be computed again right away. An LRU keeps them, but pays for its
bookkeeping on every hit, and hits are the common case.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class GenerationalMemo(Generic[K, V]):
    """A dict-backed memo of at most ``2 * capacity`` entries.

    New entries go into the recent generation. When it is full, it becomes
    the old generation, and the previous old generation is dropped. A hit
    in the old generation moves the entry back into the recent one. So an
    entry used at least once per generation is kept for good, and a hit in
    the recent generation costs one dict lookup.

    Keys must be hashable: `get` and `put` raise `TypeError` otherwise.
    ``None`` cannot be stored, because `get` returns it for a miss.
    ``recent`` is the recent generation. Hot loops may look a key up there
    first, which saves a method call per hit, and call `get` on a miss.
    """

    __slots__ = ("_old", "capacity", "recent")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.recent: dict[K, V] = {}
        self._old: dict[K, V] = {}

    def get(self, key: K) -> V | None:
        """Return the value remembered for ``key``, or None."""
        value = self.recent.get(key)
        if value is None:
            value = self._old.pop(key, None)
            if value is not None:
                self.put(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        """Remember ``value`` for ``key``."""
        if len(self.recent) >= self.capacity:
            self._old = self.recent
            self.recent = {}
        self.recent[key] = value

    def clear(self) -> None:
        """Forget every entry."""
        self.recent = {}
        self._old = {}

    def __len__(self) -> int:
        return len(self.recent) + len(self._old)
