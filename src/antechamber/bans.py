"""Who was removed from a room with a ban, until when.

Key layout (Redis):
- `ban:{<room id>}:<identity>` -> "1", expiring with the ban, so a ban ends by itself
  and nothing has to sweep. The room's hash tag keeps a room's keys on one Cluster
  slot, like the lobby's.
- `ban:rooms`: sorted set of rooms with a ban in force, scored by the end (ms) of the
  room's latest ban: the rooms the reconciler watches closely. Entries past their
  score are dropped when read.
The memory store is for the single-process run.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

from antechamber.redis_client import RedisClient, text
from antechamber.ttlmap import TTLMap

MAX_BAN_SECONDS = 30 * 86400
ROOMS_KEY = "ban:rooms"


def ban_key(room: str, identity: str) -> str:
    return f"ban:{{{room}}}:{identity}"


class BanStore(Protocol):
    async def ban(self, room: str, identity: str, seconds: int) -> None: ...

    async def is_banned(self, room: str, identity: str) -> bool: ...

    async def banned_among(self, room: str, identities: Sequence[str]) -> set[str]:
        """Which of these identities are banned from the room right now."""
        ...

    async def rooms_with_bans(self, limit: int) -> list[str]:
        """Rooms where a ban is in force (at most `limit`, the soonest to end first)."""
        ...


class RedisBanStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def ban(self, room: str, identity: str, seconds: int) -> None:
        until_ms = (time.time() + seconds) * 1000
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(ban_key(room, identity), "1", ex=seconds)
            pipe.zadd(ROOMS_KEY, {room: until_ms}, gt=True)
            await pipe.execute()

    async def is_banned(self, room: str, identity: str) -> bool:
        # GET, not EXISTS: on a cluster, redis-py sends EXISTS through a per-slot pipeline.
        return await self._redis.get(ban_key(room, identity)) is not None

    async def banned_among(self, room: str, identities: Sequence[str]) -> set[str]:
        if not identities:
            return set()
        values = await self._redis.mget([ban_key(room, i) for i in identities])
        return {identity for identity, value in zip(identities, values, strict=True) if value}

    async def rooms_with_bans(self, limit: int) -> list[str]:
        await self._redis.zremrangebyscore(ROOMS_KEY, "-inf", time.time() * 1000)
        names = await self._redis.zrange(ROOMS_KEY, 0, limit - 1)
        return [text(n) for n in names]


class MemoryBanStore:
    def __init__(self) -> None:
        self._bans: TTLMap[tuple[str, str], bool] = TTLMap()

    async def ban(self, room: str, identity: str, seconds: int) -> None:
        self._bans.put((room, identity), True, seconds)

    async def is_banned(self, room: str, identity: str) -> bool:
        return self.banned_now(room, identity)

    def banned_now(self, room: str, identity: str) -> bool:
        """The same, without awaiting: the memory lobby store checks it inside its own
        atomic request-entry, as the Redis store's script reads the ban key."""
        return self._bans.get((room, identity)) is not None

    async def banned_among(self, room: str, identities: Sequence[str]) -> set[str]:
        return {i for i in identities if await self.is_banned(room, i)}

    async def rooms_with_bans(self, limit: int) -> list[str]:
        return list(dict.fromkeys(room for (room, _), _ in self._bans.items()))[:limit]
