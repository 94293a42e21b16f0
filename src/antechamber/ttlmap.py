"""A dict whose entries expire: the in-process stand-in for Redis keys with a TTL, and
the process' short-lived caches.

An expired entry reads as absent at once. Expired entries are dropped as the map grows
(whenever it has doubled since the last sweep), so a map written often never holds more
than about twice its live entries; `max_entries` bounds a cache whose entries all stay
live (past it, the map is emptied: a cache may forget).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
MIN_SWEEP = 256


class TTLMap(Generic[K, V]):
    def __init__(
        self, max_entries: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: dict[K, tuple[V, float]] = {}
        self._max_entries = max_entries
        self._clock = clock
        self._sweep_at = MIN_SWEEP

    def get(self, key: K) -> V | None:
        entry = self.entry(key)
        return entry[0] if entry is not None else None

    def entry(self, key: K) -> tuple[V, float] | None:
        """The value and its deadline (on this map's clock), if live."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._entries[key]
            return None
        return entry

    def put(self, key: K, value: V, ttl_s: float) -> None:
        self.put_until(key, value, self._clock() + ttl_s)

    def put_until(self, key: K, value: V, deadline: float) -> None:
        if key not in self._entries:
            self._make_room()
        self._entries[key] = (value, deadline)

    def pop(self, key: K) -> V | None:
        """The live value, removed."""
        value = self.get(key)
        self._entries.pop(key, None)
        return value

    def discard(self, key: K) -> None:
        self._entries.pop(key, None)

    def items(self) -> Iterator[tuple[K, V]]:
        """Live entries, oldest key first."""
        now = self._clock()
        return ((k, v) for k, (v, deadline) in list(self._entries.items()) if deadline > now)

    def sweep(self) -> None:
        now = self._clock()
        self._entries = {k: e for k, e in self._entries.items() if e[1] > now}

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        """Entries held, expired ones not yet swept included."""
        return len(self._entries)

    def _make_room(self) -> None:
        if len(self._entries) >= self._sweep_at:
            self.sweep()
            self._sweep_at = max(MIN_SWEEP, 2 * len(self._entries))
        if self._max_entries is not None and len(self._entries) >= self._max_entries:
            self._entries.clear()
