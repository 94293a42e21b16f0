"""Server-side login sessions behind an opaque HttpOnly cookie.

The cookie holds a random id; the store keeps only its SHA-256, so a leaked store dump
can't be replayed as cookies. Redis when configured (shared by every process), memory
for the single-process development run.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Protocol

from antechamber.redis_client import RedisClient, text
from antechamber.ttlmap import TTLMap

SESSION_KEY_PREFIX = "session:"
PENDING_LOGIN_PREFIX = "oidc-login:"


@dataclass(frozen=True)
class Session:
    user_id: uuid.UUID


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class KeyValueStore(Protocol):
    """The small TTL store that sessions and pending logins need."""

    async def put(self, key: str, value: str, ttl_s: int) -> None: ...

    async def get(self, key: str) -> str | None: ...

    async def pop(self, key: str) -> str | None:
        """Get and delete in one step, so a value is used at most once."""
        ...

    async def delete(self, key: str) -> None: ...

    async def count(self, key: str, window_s: int) -> tuple[int, int]:
        """Adds one to a counter that lives `window_s` from its first hit; returns the
        count and the seconds left in its window (for rate limits)."""
        ...


class MemoryKeyValueStore:
    def __init__(self) -> None:
        self._items: TTLMap[str, str] = TTLMap()

    async def put(self, key: str, value: str, ttl_s: int) -> None:
        self._items.put(key, value, ttl_s)

    async def get(self, key: str) -> str | None:
        return self._items.get(key)

    async def pop(self, key: str) -> str | None:
        return self._items.pop(key)

    async def delete(self, key: str) -> None:
        self._items.discard(key)

    async def count(self, key: str, window_s: int) -> tuple[int, int]:
        now = time.monotonic()
        value, window_end = self._items.entry(key) or ("0", now + window_s)
        count = int(value) + 1
        self._items.put_until(key, str(count), window_end)
        return count, max(1, int(window_end - now + 0.999))


class RedisKeyValueStore:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis

    async def put(self, key: str, value: str, ttl_s: int) -> None:
        await self._redis.set(key, value, ex=ttl_s)

    async def get(self, key: str) -> str | None:
        value = await self._redis.get(key)
        return None if value is None else text(value)

    async def pop(self, key: str) -> str | None:
        value = await self._redis.getdel(key)
        return None if value is None else text(value)

    async def delete(self, key: str) -> None:
        await self._redis.delete(key)

    async def count(self, key: str, window_s: int) -> tuple[int, int]:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, window_s, nx=True)
            pipe.ttl(key)
            count, _, ttl = await pipe.execute()
        return int(count), max(1, int(ttl))


class SessionService:
    def __init__(self, store: KeyValueStore, ttl_s: int) -> None:
        self._store = store
        self.ttl_s = ttl_s

    async def create(self, user_id: uuid.UUID) -> str:
        session_id = new_session_id()
        payload = json.dumps({"user_id": str(user_id)})
        await self._store.put(SESSION_KEY_PREFIX + _digest(session_id), payload, self.ttl_s)
        return session_id

    async def load(self, session_id: str) -> Session | None:
        if not session_id or len(session_id) > 128:
            return None
        raw = await self._store.get(SESSION_KEY_PREFIX + _digest(session_id))
        if raw is None:
            return None
        try:
            return Session(user_id=uuid.UUID(json.loads(raw)["user_id"]))
        except (ValueError, KeyError, TypeError):
            return None

    async def destroy(self, session_id: str) -> None:
        await self._store.delete(SESSION_KEY_PREFIX + _digest(session_id))
