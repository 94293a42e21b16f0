"""What a hot path (a lobby poll, a join) needs about a room, cached per process.

Entries are dropped on every process when the room changes (a message on
`ROOMS_CHANNEL`), and live at most `ttl_s` anyway, which bounds staleness if a
message is lost while a process reconnects to Redis.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from antechamber.rooms.models import AccessLevel, Room
from antechamber.rooms.schemas import RoomConfiguration

ROOMS_CHANNEL = "rooms:changed"
MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class RoomSnapshot:
    id: uuid.UUID
    slug: str
    name: str
    access_level: AccessLevel
    configuration: RoomConfiguration

    @classmethod
    def of(cls, room: Room) -> RoomSnapshot:
        return cls(
            id=room.id,
            slug=room.slug,
            name=room.name,
            access_level=room.access_level,
            configuration=RoomConfiguration.model_validate(room.configuration or {}),
        )


class RoomCache:
    """Rooms by key (id or lowercased slug), and keys known to name no room ("misses", so
    an unregistered room costs no database query either). A message on `ROOMS_CHANNEL` is
    a room id or a slug: it drops the room with that id and the miss of that key; a room's
    creation sends its slug and its id. `generation` changes with every drop, so a lookup
    that read the database before a drop doesn't cache what it read after it."""

    def __init__(self, ttl_s: float = 5.0) -> None:
        self._ttl_s = ttl_s
        self._entries: dict[str, tuple[RoomSnapshot | None, float]] = {}
        self.generation = 0

    def _fresh(self, key: str) -> tuple[RoomSnapshot | None, float] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry

    def get(self, key: str) -> RoomSnapshot | None:
        entry = self._fresh(key)
        return entry[0] if entry is not None else None

    def is_missing(self, key: str) -> bool:
        """Whether `key` was found to name no room, recently and since the last drop."""
        entry = self._fresh(key)
        return entry is not None and entry[0] is None

    def put(self, key: str, snapshot: RoomSnapshot, generation: int | None = None) -> None:
        self._put(key, snapshot, generation)

    def put_missing(self, key: str, generation: int) -> None:
        self._put(key, None, generation)

    def _put(self, key: str, snapshot: RoomSnapshot | None, generation: int | None) -> None:
        if generation is not None and generation != self.generation:
            return  # something changed while it was read: don't keep it
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (snapshot, time.monotonic() + self._ttl_s)

    def invalidate(self, message: str) -> None:
        self.generation += 1
        key = message.lower()
        entry = self._entries.get(key)
        if entry is not None and entry[0] is None:
            del self._entries[key]
        stale = [k for k, (snap, _) in self._entries.items() if snap and str(snap.id) == message]
        for k in stale:
            del self._entries[k]
