"""A read-through cache with an LRU front and a serialising backend."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime


class CacheLoadError(Exception):
    """The loader behind a cache key failed; the cause is the loader's error."""


class BackendUnavailableError(ConnectionError):
    """The cache backend refused the connection."""


Loader = Callable[[str], object]


class JsonBackend:
    """Store values as JSON text, the way a remote key-value store would."""

    def __init__(self, *, reachable: bool = True):
        self._data: dict[str, str] = {}
        self._reachable = reachable

    def get(self, key: str) -> object | None:
        self._check_connection()
        text = self._data.get(key)
        return None if text is None else json.loads(text)

    def set(self, key: str, value: object) -> None:
        self._check_connection()
        self._data[key] = json.dumps(value, sort_keys=True)

    def _check_connection(self) -> None:
        if not self._reachable:
            raise BackendUnavailableError(
                "cache backend at 127.0.0.1:6379 refused the connection"
            )


class LRUCache:
    def __init__(self, backend: JsonBackend, *, capacity: int = 128):
        self._backend = backend
        self._capacity = capacity
        self._front: OrderedDict[str, object] = OrderedDict()
        self._expiry: dict[str, datetime] = {}

    def get_or_load(self, key: str, loader: Loader) -> object:
        if key in self._front:
            self._front.move_to_end(key)
            return self._front[key]
        value = self._backend.get(key)
        if value is None:
            value = self._load(key, loader)
            self._backend.set(key, value)
        self._remember(key, value)
        return value

    def expire(self, now: datetime) -> int:
        expired = 0
        for key, deadline in self._expiry.items():
            if deadline <= now:
                # Deleting while iterating the same dict raises RuntimeError.
                del self._expiry[key]
                self._front.pop(key, None)
                expired += 1
        return expired

    def set_expiry(self, key: str, deadline: datetime) -> None:
        self._expiry[key] = deadline

    def _load(self, key: str, loader: Loader) -> object:
        try:
            return loader(key)
        except LookupError as error:
            raise CacheLoadError(f"loader for key {key!r} failed") from error

    def _remember(self, key: str, value: object) -> None:
        self._front[key] = value
        if len(self._front) > self._capacity:
            self._front.popitem(last=False)


def profile_loader(profiles: dict[str, dict[str, object]]) -> Loader:
    def load(key: str) -> object:
        user_id = key.removeprefix("profile:")
        return profiles[user_id]

    return load
