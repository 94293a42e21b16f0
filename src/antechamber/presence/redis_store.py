"""Presence in Redis, shared by every process.

Key layout: `presence:{<livekit room>}` is a hash identity -> JSON participant. It expires
`ttl_s` after the last join, so a room whose `room_finished` never arrived doesn't stay
forever.
"""

from __future__ import annotations

import json

from antechamber.presence.store import PresentParticipant, ordered
from antechamber.redis_client import RedisClient

DEFAULT_TTL_S = 24 * 3600

# Deletes the participant only if the stored entry is still the connection that left.
_LEFT = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if raw and cjson.decode(raw)['sid'] == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


def presence_key(room: str) -> str:
    return f"presence:{{{room}}}"


class RedisPresenceStore:
    def __init__(self, redis: RedisClient, ttl_s: int = DEFAULT_TTL_S) -> None:
        self._redis = redis
        self._ttl_s = ttl_s
        self._left = redis.register_script(_LEFT)

    async def joined(self, room: str, participant: PresentParticipant) -> None:
        key = presence_key(room)
        value = json.dumps(
            {
                "identity": participant.identity,
                "sid": participant.sid,
                "name": participant.name,
                "joined_at": participant.joined_at,
            }
        )
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, participant.identity, value)
            pipe.expire(key, self._ttl_s)
            await pipe.execute()

    async def left(self, room: str, identity: str, sid: str) -> None:
        await self._left(keys=[presence_key(room)], args=[identity, sid])

    async def participants(self, room: str) -> list[PresentParticipant]:
        raw = await self._redis.hgetall(presence_key(room))
        return ordered(PresentParticipant(**json.loads(value)) for value in raw.values())

    async def clear_room(self, room: str) -> None:
        await self._redis.delete(presence_key(room))
