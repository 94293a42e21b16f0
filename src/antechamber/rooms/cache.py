"""What a hot path (a lobby poll, a join, an admin's poll) needs about a room, cached
per process: the room, and who was found to administer it.

Entries are dropped on every process when the room or its accesses change (a message on
`ROOMS_CHANNEL`, published once the change is committed and before its answer is sent),
and live at most `ttl_s` (`admin_ttl_s`) anyway, which bounds staleness if a message is
lost while a process reconnects to Redis, or for a change made outside the service (in
SQL).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from antechamber.rooms.models import AccessLevel, Role, Room
from antechamber.rooms.schemas import RoomConfiguration
from antechamber.ttlmap import TTLMap

ROOMS_CHANNEL = "rooms:changed"
CREATED = "+"  # slugs and ids never start with it
MAX_ENTRIES = 10_000
# Short: what it bounds is how long a change made outside the service (a user deleted in
# SQL) or a message lost in a reconnect leaves an admin's rights in place.
ADMIN_TTL_S = 2.0


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
    """Rooms by key (id or lowercased slug), keys known to name no room ("misses", so
    an unregistered room costs no database query either), and who administers a room. A
    message on `ROOMS_CHANNEL` is a room id (the room or its accesses changed: its entries
    and its admins are dropped) or `+<key>` (a room with that slug or id was created: the
    miss of that key is dropped, the rest kept). `generation` changes with every message,
    so a lookup that began before one doesn't cache its answer (a miss, an admin)."""

    def __init__(
        self,
        ttl_s: float = 5.0,
        admin_ttl_s: float = ADMIN_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl_s = ttl_s
        self._admin_ttl_s = admin_ttl_s
        # None: the key names no room (a cached miss).
        self._entries: TTLMap[str, RoomSnapshot | None] = TTLMap(MAX_ENTRIES, clock)
        # (room id, user id): the owner or administrator role the user was found to hold,
        # her account existing. Only those: a refusal is never cached, so granting a role
        # needs no message, and every refusal is the database's answer.
        self._admins: TTLMap[tuple[uuid.UUID, uuid.UUID], Role] = TTLMap(MAX_ENTRIES, clock)
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

    def admin_role(self, room_id: uuid.UUID, user_id: uuid.UUID) -> Role | None:
        """The owner or administrator role the user holds on the room, if recently found
        and nothing about the room changed since; None: ask the database."""
        return self._admins.get((room_id, user_id))

    def put_admin(
        self, room_id: uuid.UUID, user_id: uuid.UUID, role: Role, generation: int
    ) -> None:
        """`generation`: read before the query that found `role`; if a message came since
        (maybe this very role's removal, committed after the query read it), the answer
        is not kept."""
        if role.is_admin and generation == self.generation:
            self._admins.put((room_id, user_id), role, self._admin_ttl_s)

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
        admins = [pair for pair, _ in self._admins.items() if str(pair[0]) == message]
        for pair in admins:
            self._admins.discard(pair)


def created_message(key: str) -> str:
    """What `ROOMS_CHANNEL` carries when a room with this slug or id is created."""
    return CREATED + key
