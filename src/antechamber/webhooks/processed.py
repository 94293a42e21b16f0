"""Which webhook events have been handled, so a second delivery is not handled again.

An event is first *claimed* (a short-lived marker, so two processes receiving the same
event at once don't both handle it), then marked *done* only once its handler succeeded.
A failed handler releases its claim, so LiveKit's retry is handled from scratch.
"""

from __future__ import annotations

import enum
import secrets
from typing import Protocol

from antechamber.redis_client import RedisClient, text
from antechamber.ttlmap import TTLMap

CLAIM_TTL_S = 30  # longer than any handler may take (LiveKit calls time out sooner)
DONE_TTL_S = 24 * 3600  # LiveKit's redeliveries come within minutes


class Claim(enum.Enum):
    NEW = "new"  # ours to handle; `token` identifies the claim
    DONE = "done"  # handled already
    BUSY = "busy"  # another delivery is being handled right now


class ProcessedEvents(Protocol):
    async def claim(self, event_id: str, token: str) -> Claim: ...

    async def finish(self, event_id: str) -> None: ...

    async def release(self, event_id: str, token: str) -> None:
        """Drops our claim (only ours: an expired one may have been taken over)."""
        ...


def new_claim_token() -> str:
    return secrets.token_hex(8)


def event_key(event_id: str) -> str:
    return f"webhook:event:{event_id}"


_CLAIM = """
local state = redis.call('GET', KEYS[1])
if state == 'done' then return 'done' end
if state then return 'busy' end
redis.call('SET', KEYS[1], 'claim:' .. ARGV[1], 'EX', ARGV[2])
return 'new'
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == 'claim:' .. ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisProcessedEvents:
    def __init__(self, redis: RedisClient) -> None:
        self._redis = redis
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)

    async def claim(self, event_id: str, token: str) -> Claim:
        state = await self._claim(keys=[event_key(event_id)], args=[token, CLAIM_TTL_S])
        return Claim(text(state))

    async def finish(self, event_id: str) -> None:
        await self._redis.set(event_key(event_id), "done", ex=DONE_TTL_S)

    async def release(self, event_id: str, token: str) -> None:
        await self._release(keys=[event_key(event_id)], args=[token])


class MemoryProcessedEvents:
    """For the single-process embedded default; expiries as in Redis."""

    def __init__(self) -> None:
        self._states: TTLMap[str, str] = TTLMap()

    def _get(self, event_id: str) -> str | None:
        return self._states.get(event_id)

    def _set(self, event_id: str, state: str, ttl_s: int) -> None:
        self._states.put(event_id, state, ttl_s)

    async def claim(self, event_id: str, token: str) -> Claim:
        state = self._get(event_id)
        if state == "done":
            return Claim.DONE
        if state is not None:
            return Claim.BUSY
        self._set(event_id, "claim:" + token, CLAIM_TTL_S)
        return Claim.NEW

    async def finish(self, event_id: str) -> None:
        self._set(event_id, "done", DONE_TTL_S)

    async def release(self, event_id: str, token: str) -> None:
        if self._get(event_id) == "claim:" + token:
            self._states.discard(event_id)
