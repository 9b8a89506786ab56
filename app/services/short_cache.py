"""A small in-process cache whose entries expire after a few seconds.

Credentials (API tokens, web sessions) are looked up on every request; a hit
here saves the database round trip. Entries live only a few seconds so that
a revocation made by another server process takes effect soon everywhere
(this process drops its own entries at once, via ``drop``/``clear``).
"""

from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

T = TypeVar("T")


class ShortLivedCache(Generic[T]):
    def __init__(self, seconds: float, max_items: int = 10_000) -> None:
        self.seconds, self.max_items = seconds, max_items
        self._items: dict[str, tuple[float, T]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> T | None:
        with self._lock:
            item = self._items.get(key)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    def put(self, key: str, value: T) -> None:
        with self._lock:
            # Bounded memory: many distinct credentials at once just start the cache afresh.
            if len(self._items) > self.max_items:
                self._items.clear()
            self._items[key] = (time.monotonic() + self.seconds, value)

    def drop(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
