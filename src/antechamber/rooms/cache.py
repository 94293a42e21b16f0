"""What a hot path (a lobby poll, a join) needs about a room, cached per process.

Entries are dropped on every process when the room changes (a message on
`ROOMS_CHANNEL`), and live at most `ttl_s` anyway, which bounds staleness if a
message is lost while a process reconnects to Redis.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from antechamber.rooms.models import AccessLevel, Room
from antechamber.rooms.schemas import RoomConfiguration
from antechamber.ttlmap import TTLMap

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
    def __init__(self, ttl_s: float = 5.0) -> None:
        self._ttl_s = ttl_s
        self._entries: TTLMap[str, RoomSnapshot] = TTLMap(max_entries=MAX_ENTRIES)

    def get(self, key: str) -> RoomSnapshot | None:
        return self._entries.get(key)

    def put(self, key: str, snapshot: RoomSnapshot) -> None:
        self._entries.put(key, snapshot, self._ttl_s)

    def invalidate(self, room_id: str) -> None:
        for key in [k for k, snap in self._entries.items() if str(snap.id) == room_id]:
            self._entries.discard(key)
