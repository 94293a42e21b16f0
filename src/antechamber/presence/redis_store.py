"""Presence in Redis, shared by every process.

Key layout (the room's hash tag keeps a room's keys on one Cluster slot):
- `presence:{<livekit room>}`: hash identity -> JSON participant. It expires `ttl_s`
  after the last change, so a room whose `room_finished` never arrived doesn't stay
  forever (the reconciler clears it sooner).
- `presence:{<livekit room>}:gone`: hash sid -> "1" of connections that left
  (tombstones against a late `joined`), expiring `TOMBSTONE_TTL_S` after the last `left`.
- `presence:rooms`: sorted set of rooms with a listed participant, scored by the time
  of the last join (ms): what the reconciler sweeps besides LiveKit's live rooms.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from antechamber.presence.store import (
    TOMBSTONE_TTL_S,
    Change,
    Left,
    PresentParticipant,
    ordered,
)
from antechamber.redis_client import RedisClient, text

DEFAULT_TTL_S = 24 * 3600
ROOMS_KEY = "presence:rooms"

# KEYS: presence, gone. ARGV: identity, sid, json, ttl_s.
_JOINED = """
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""
# KEYS: presence, gone. ARGV: identity, sid, tombstone ttl_s.
# Deletes the participant only if the stored entry is still the connection that left.
_LEFT = """
redis.call('HSET', KEYS[2], ARGV[2], '1')
redis.call('EXPIRE', KEYS[2], ARGV[3])
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 'unknown' end
if cjson.decode(raw)['sid'] ~= ARGV[2] then return 'stale' end
redis.call('HDEL', KEYS[1], ARGV[1])
return 'removed'
"""
# KEYS: presence. ARGV: ttl_s, then triples identity, expected sid ("" absent), json ("" remove).
_APPLY = """
local applied = 0
for i = 2, #ARGV, 3 do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  local sid = ''
  if raw then sid = cjson.decode(raw)['sid'] end
  if sid == ARGV[i + 1] then
    if ARGV[i + 2] == '' then
      redis.call('HDEL', KEYS[1], ARGV[i])
    else
      redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    end
    applied = applied + 1
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return applied
"""


def presence_key(room: str) -> str:
    return f"presence:{{{room}}}"


def gone_key(room: str) -> str:
    return f"presence:{{{room}}}:gone"


def encode(participant: PresentParticipant) -> str:
    return json.dumps(
        {
            "identity": participant.identity,
            "sid": participant.sid,
            "name": participant.name,
            "joined_at": participant.joined_at,
        }
    )


class RedisPresenceStore:
    def __init__(self, redis: RedisClient, ttl_s: int = DEFAULT_TTL_S) -> None:
        self._redis = redis
        self._ttl_s = ttl_s
        self._joined = redis.register_script(_JOINED)
        self._left = redis.register_script(_LEFT)
        self._apply = redis.register_script(_APPLY)

    async def joined(self, room: str, participant: PresentParticipant) -> bool:
        keys = [presence_key(room), gone_key(room)]
        args: list[str | int] = [participant.identity, participant.sid, encode(participant)]
        args.append(self._ttl_s)
        if not await self._joined(keys=keys, args=args):
            return False
        await self._redis.zadd(ROOMS_KEY, {room: time.time() * 1000})
        return True

    async def left(self, room: str, identity: str, sid: str) -> Left:
        keys = [presence_key(room), gone_key(room)]
        outcome = await self._left(keys=keys, args=[identity, sid, TOMBSTONE_TTL_S])
        return Left(text(outcome))

    async def participants(self, room: str) -> list[PresentParticipant]:
        raw = await self._redis.hgetall(presence_key(room))
        return ordered(PresentParticipant(**json.loads(value)) for value in raw.values())

    async def count(self, room: str) -> int:
        return int(await self._redis.hlen(presence_key(room)))

    async def apply(self, room: str, changes: Sequence[Change]) -> int:
        if not changes:
            return 0
        args: list[str | int] = [self._ttl_s]
        for change in changes:
            new = encode(change.new) if change.new is not None else ""
            args.extend((change.identity, change.expected_sid, new))
        applied = int(await self._apply(keys=[presence_key(room)], args=args))
        if not await self._redis.exists(presence_key(room)):
            await self._redis.zrem(ROOMS_KEY, room)
        return applied

    async def rooms(self, limit: int) -> list[str]:
        # Rooms without a join for longer than the list's own lifetime are gone anyway.
        oldest = (time.time() - self._ttl_s) * 1000
        await self._redis.zremrangebyscore(ROOMS_KEY, "-inf", oldest)
        names = await self._redis.zrange(ROOMS_KEY, 0, limit - 1)
        return [text(n) for n in names]

    async def clear_room(self, room: str) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.delete(presence_key(room))
            pipe.zrem(ROOMS_KEY, room)
            await pipe.execute()
