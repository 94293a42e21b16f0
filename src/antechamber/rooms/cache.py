"""What a hot path (a lobby poll, a join) needs about a room, cached per process.

Entries are dropped on every process when the room changes (a message on
`ROOMS_CHANNEL`), and live at most `ttl_s` anyway, which bounds staleness if a
message is lost while a process reconnects to Redis.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from antechamber.rooms.models import AccessLevel, Room
from antechamber.rooms.schemas import RoomConfiguration
from antechamber.ttlmap import TTLMap

ROOMS_CHANNEL = "rooms:changed"
CREATED = "+"  # slugs and ids never start with it
MAX_ENTRIES = 10_000


class LookAgain:
    """A shared lookup's answer when it failed or was cancelled: each request that waited
    for it looks the room up itself (and meets the same outage, if it is one)."""


LOOK_AGAIN = LookAgain()


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
    a room id (the room changed: its entries are dropped) or `+<key>` (a room with that
    slug or id was created: the miss of that key is dropped, the rest kept). `generation`
    changes with every message, so a lookup that found no room before one doesn't cache
    that miss."""

    def __init__(self, ttl_s: float = 5.0) -> None:
        self._ttl_s = ttl_s
        # None: the key names no room (a cached miss).
        self._entries: TTLMap[str, RoomSnapshot | None] = TTLMap(max_entries=MAX_ENTRIES)
        self.generation = 0
        # The lookup of a key in flight on this process (`rooms.service.snapshot`): its
        # answer, or LOOK_AGAIN if it failed.
        self.loading: dict[str, asyncio.Future[RoomSnapshot | LookAgain | None]] = {}

    def get(self, key: str) -> RoomSnapshot | None:
        return self._entries.get(key)

    def is_missing(self, key: str) -> bool:
        """Whether `key` was found to name no room, recently and since the last drop."""
        entry = self._entries.entry(key)
        return entry is not None and entry[0] is None

    def put(self, key: str, snapshot: RoomSnapshot) -> None:
        self._entries.put(key, snapshot, self._ttl_s)

    def put_missing(self, key: str, generation: int) -> None:
        """`generation`: read before the lookup; if a message came since (maybe this very
        room's creation), the miss is not kept."""
        if generation == self.generation:
            self._entries.put(key, None, self._ttl_s)

    def invalidate(self, message: str) -> None:
        self.generation += 1
        if message.startswith(CREATED):
            key = message[len(CREATED) :].lower()
            if self.is_missing(key):
                self._entries.discard(key)
            return
        stale = [k for k, snap in self._entries.items() if snap and str(snap.id) == message]
        for key in stale:
            self._entries.discard(key)


def created_message(key: str) -> str:
    """What `ROOMS_CHANNEL` carries when a room with this slug or id is created."""
    return CREATED + key
