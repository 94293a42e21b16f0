"""Short-lived claims shared by every process: which process runs the reconciler's
periodic passes, whose turn it is to reconcile a room, and a lock so only one process
reconciles a room at a time.

Key layout (Redis):
- `reconcile:lease:<deployment>` -> the token of the process that runs the periodic
  passes, for a few seconds, renewed by it while it runs (a crashed holder's lease ends
  by itself); one lease per LiveKit deployment (a hash of its URL and API key), so
  processes sharing a Redis but pointed at different LiveKit servers (a staging and a
  test instance, the test suite's apps) never leave each other's rooms unreconciled;
- with the room's hash tag, `reconcile:{<room>}:lock` -> a random token, until released
  or `ttl` (a crashed holder's lock ends by itself);
- `reconcile:{<room>}:<kind>` -> "1" for one period: the process that set it has this
  period's turn (`kind` is `all` for the sweep of live rooms, `banned` for rooms with
  a ban in force).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Protocol

from antechamber.redis_client import RedisClient

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# Taken when free, renewed when ours: 1 while KEYS[1] holds ARGV[1].
_HOLD = """
local held = redis.call('GET', KEYS[1])
if held == false or held == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
LEASE_KEY = "reconcile:lease"


def lease_key(livekit_http_url: str, livekit_api_key: str) -> str:
    """The lease of the processes that talk to this LiveKit deployment."""
    deployment = f"{livekit_http_url}\n{livekit_api_key}".encode()
    return f"{LEASE_KEY}:{hashlib.sha256(deployment).hexdigest()[:16]}"


def lock_key(room: str) -> str:
    return f"reconcile:{{{room}}}:lock"


def turn_key(room: str, kind: str) -> str:
    return f"reconcile:{{{room}}}:{kind}"


class Turns(Protocol):
    async def take(self, key: str, ttl_ms: int) -> bool:
        """True for the one caller that takes the key until it expires."""
        ...

    async def lock(self, key: str, ttl_ms: int) -> str | None:
        """A token when the lock is ours, None when someone holds it."""
        ...

    async def unlock(self, key: str, token: str) -> None:
        """Releases the lock if it is still ours."""
        ...

    async def hold(self, key: str, token: str, ttl_ms: int) -> bool:
        """True when the key is ours for `ttl_ms` from now: taken if free (or expired),
        renewed if `token` holds it already; False while another token holds it."""
        ...


class RedisTurns:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._unlock = redis.register_script(_UNLOCK)
        self._hold = redis.register_script(_HOLD)

    async def take(self, key: str, ttl_ms: int) -> bool:
        return bool(await self._redis.set(key, "1", nx=True, px=ttl_ms))

    async def lock(self, key: str, ttl_ms: int) -> str | None:
        token = secrets.token_hex(8)
        return token if await self._redis.set(key, token, nx=True, px=ttl_ms) else None

    async def unlock(self, key: str, token: str) -> None:
        await self._unlock(keys=[key], args=[token])

    async def hold(self, key: str, token: str, ttl_ms: int) -> bool:
        return bool(await self._hold(keys=[key], args=[token, ttl_ms]))


class MemoryTurns:
    def __init__(self) -> None:
        self._held: dict[str, tuple[str, float]] = {}

    def _set_if_free(self, key: str, value: str, ttl_ms: int) -> bool:
        now = time.monotonic()
        held = self._held.get(key)
        if held is not None and held[1] > now:
            return False
        if len(self._held) > 10_000:
            self._held = {k: v for k, v in self._held.items() if v[1] > now}
        self._held[key] = (value, now + ttl_ms / 1000)
        return True

    async def take(self, key: str, ttl_ms: int) -> bool:
        return self._set_if_free(key, "1", ttl_ms)

    async def lock(self, key: str, ttl_ms: int) -> str | None:
        token = secrets.token_hex(8)
        return token if self._set_if_free(key, token, ttl_ms) else None

    async def unlock(self, key: str, token: str) -> None:
        held = self._held.get(key)
        if held is not None and held[0] == token:
            del self._held[key]

    async def hold(self, key: str, token: str, ttl_ms: int) -> bool:
        held = self._held.get(key)
        if held is not None and held[0] == token:
            self._held[key] = (token, time.monotonic() + ttl_ms / 1000)
            return True
        return self._set_if_free(key, token, ttl_ms)
