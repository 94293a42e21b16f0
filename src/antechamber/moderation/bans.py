"""Who was removed from a room with a ban, until when.

Key layout (Redis): `ban:{<room id>}:<identity>` -> "1", expiring with the ban, so a ban
ends by itself and nothing has to sweep. The room's hash tag keeps a room's keys on one
Cluster slot, like the lobby's. The memory store is for the single-process run.
"""

from __future__ import annotations

import time
from typing import Protocol

from antechamber.redis_client import RedisClient

MAX_BAN_SECONDS = 30 * 86400


def ban_key(room: str, identity: str) -> str:
    return f"ban:{{{room}}}:{identity}"


class BanStore(Protocol):
    async def ban(self, room: str, identity: str, seconds: int) -> None: ...

    async def is_banned(self, room: str, identity: str) -> bool: ...


class RedisBanStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def ban(self, room: str, identity: str, seconds: int) -> None:
        await self._redis.set(ban_key(room, identity), "1", ex=seconds)

    async def is_banned(self, room: str, identity: str) -> bool:
        # GET, not EXISTS: on a cluster, redis-py sends EXISTS through a per-slot pipeline.
        return await self._redis.get(ban_key(room, identity)) is not None


class MemoryBanStore:
    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    async def ban(self, room: str, identity: str, seconds: int) -> None:
        now = time.monotonic()
        self._until = {k: t for k, t in self._until.items() if t > now}
        self._until[ban_key(room, identity)] = now + seconds

    async def is_banned(self, room: str, identity: str) -> bool:
        return self._until.get(ban_key(room, identity), 0.0) > time.monotonic()
