"""Rooms where `mute-all` took the microphone away ("can't unmute"), so that people who
join afterwards lose it too, until `allow-unmute` gives it back.

Key layout (Redis): `microphones-off:{<room id>}` -> "1", expiring after `LOCK_TTL_S`
(a meeting's day) so a forgotten lock ends by itself. Memory store: single process.
"""

from __future__ import annotations

import time
from typing import Protocol

from antechamber.redis_client import RedisClient

LOCK_TTL_S = 24 * 3600


def lock_key(room: str) -> str:
    return f"microphones-off:{{{room}}}"


class MicrophoneLocks(Protocol):
    async def lock(self, room: str) -> None: ...

    async def unlock(self, room: str) -> None: ...

    async def is_locked(self, room: str) -> bool: ...


class RedisMicrophoneLocks:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def lock(self, room: str) -> None:
        await self._redis.set(lock_key(room), "1", ex=LOCK_TTL_S)

    async def unlock(self, room: str) -> None:
        await self._redis.delete(lock_key(room))

    async def is_locked(self, room: str) -> bool:
        return bool(await self._redis.exists(lock_key(room)))


class MemoryMicrophoneLocks:
    def __init__(self) -> None:
        self._until: dict[str, float] = {}

    async def lock(self, room: str) -> None:
        self._until[room] = time.monotonic() + LOCK_TTL_S

    async def unlock(self, room: str) -> None:
        self._until.pop(room, None)

    async def is_locked(self, room: str) -> bool:
        return self._until.get(room, 0.0) > time.monotonic()
