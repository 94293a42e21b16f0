"""The lobby in Redis: one Lua script per transition, so each is atomic on any process.

Key layout (all keys of a room share the Cluster hash tag `{<room>}`):
  lobby:{<room>}:people     hash   participant id -> msgpack [status code, requested_at ms,
                                   identity, username]  (status codes: w, a, d)
  lobby:{<room>}:waiting    zset   waiting participant ids by arrival time (ms)
  lobby:{<room>}:deadline   zset   every place by expiry time (ms): purged lazily by every
                                   script before it reads, so expiry is exact and costs
                                   nothing while the room is idle
  lobby:{<room>}:rl:<addr>  string new places from one client address in the window
The three room keys expire together after the longest timeout without a write, so an
abandoned room leaves nothing behind. Time comes from Redis (`TIME`), so hosts with
skewed clocks agree. No KEYS/SCAN anywhere: every script touches one room's keys.
"""

from __future__ import annotations

from typing import Any

from antechamber.lobby.store import (
    CODES,
    STATUS_CODES,
    DecisionOutcome,
    Place,
    RateLimit,
    RequestOutcome,
    RequestResult,
    Status,
    Timeouts,
    events_channel,
)
from antechamber.redis_client import RedisClient, text

_PRELUDE = """
local people, waiting, deadline = KEYS[1], KEYS[2], KEYS[3]
local channel, keys_ttl = ARGV[1], tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local NAMES = {w = 'waiting', a = 'accepted', d = 'denied'}

-- A PlaceEvent (lobby/store.py): the same four keys.
local function publish(pid, status, rec)
  redis.call('PUBLISH', channel, cjson.encode({
    id = pid, status = status, username = rec[4], requested_at = rec[2]}))
end
local function load(pid)
  local raw = redis.call('HGET', people, pid)
  if not raw then return nil end
  return cmsgpack.unpack(raw)
end
local function store(pid, rec)
  redis.call('HSET', people, pid, cmsgpack.pack(rec))
end
local function drop(pid)
  redis.call('HDEL', people, pid)
  redis.call('ZREM', waiting, pid)
  redis.call('ZREM', deadline, pid)
end
local function extend_room_keys()
  redis.call('PEXPIRE', people, keys_ttl)
  redis.call('PEXPIRE', waiting, keys_ttl)
  redis.call('PEXPIRE', deadline, keys_ttl)
end
local function purge()
  local expired = redis.call('ZRANGEBYSCORE', deadline, '-inf', now, 'LIMIT', 0, 1000)
  for _, pid in ipairs(expired) do
    local rec = load(pid)
    drop(pid)
    if rec and rec[1] == 'w' then publish(pid, 'left', rec) end
  end
end
local function reply(tag, pid, rec)
  return {tag, pid, rec[1], rec[2], rec[3], rec[4]}
end
purge()
"""

# ARGV: channel, keys_ttl, pid, identity, username, waiting_ttl, max_waiting, rl_limit, rl_window
_REQUEST = (
    _PRELUDE
    + """
local pid, identity, username = ARGV[3], ARGV[4], ARGV[5]
local waiting_ttl, max_waiting = tonumber(ARGV[6]), tonumber(ARGV[7])
local rl_limit, rl_window = tonumber(ARGV[8]), tonumber(ARGV[9])
local rec = load(pid)
if rec then
  if rec[1] == 'w' then
    redis.call('ZADD', deadline, now + waiting_ttl, pid)
    if rec[4] ~= username then
      rec[4] = username
      store(pid, rec)
      publish(pid, 'waiting', rec)
    end
    extend_room_keys()
  end
  return reply('existing', pid, rec)
end
if redis.call('ZCARD', waiting) >= max_waiting then return {'full'} end
if rl_limit > 0 then
  local count = redis.call('INCR', KEYS[4])
  if count == 1 then redis.call('PEXPIRE', KEYS[4], rl_window) end
  if count > rl_limit then return {'limited', redis.call('PTTL', KEYS[4])} end
end
rec = {'w', now, identity, username}
store(pid, rec)
redis.call('ZADD', waiting, now, pid)
redis.call('ZADD', deadline, now + waiting_ttl, pid)
extend_room_keys()
publish(pid, 'waiting', rec)
return reply('created', pid, rec)
"""
)

# ARGV: channel, keys_ttl, pid, refresh_ttl (0: don't refresh)
_GET = (
    _PRELUDE
    + """
local rec = load(ARGV[3])
if not rec then return {'missing'} end
local refresh = tonumber(ARGV[4])
if rec[1] == 'w' and refresh > 0 then
  redis.call('ZADD', deadline, now + refresh, ARGV[3])
  extend_room_keys()
end
return reply('found', ARGV[3], rec)
"""
)

_WAITING = (
    _PRELUDE
    + """
local ids = redis.call('ZRANGE', waiting, 0, -1)
local result = {}
for i, pid in ipairs(ids) do
  local rec = load(pid)
  if rec then result[#result + 1] = reply('found', pid, rec) end
end
return result
"""
)

# ARGV: channel, keys_ttl, pid, code, ttl
_DECIDE = (
    _PRELUDE
    + """
local pid, code = ARGV[3], ARGV[4]
local rec = load(pid)
if not rec then return {'missing'} end
if rec[1] == code then return reply('same', pid, rec) end
if rec[1] ~= 'w' then return reply('conflict', pid, rec) end
rec[1] = code
store(pid, rec)
redis.call('ZREM', waiting, pid)
redis.call('ZADD', deadline, now + tonumber(ARGV[5]), pid)
extend_room_keys()
publish(pid, NAMES[code], rec)
return reply('decided', pid, rec)
"""
)

# ARGV: channel, keys_ttl, code, ttl, stop (ZRANGE index of the last one decided: -1 all)
_DECIDE_ALL = (
    _PRELUDE
    + """
local code, ttl = ARGV[3], tonumber(ARGV[4])
local ids = redis.call('ZRANGE', waiting, 0, tonumber(ARGV[5]))
for _, pid in ipairs(ids) do
  local rec = load(pid)
  rec[1] = code
  store(pid, rec)
  redis.call('ZREM', waiting, pid)
  redis.call('ZADD', deadline, now + ttl, pid)
  publish(pid, NAMES[code], rec)
end
if #ids > 0 then extend_room_keys() end
return #ids
"""
)

# ARGV: channel, keys_ttl, pid
_FORGET = (
    _PRELUDE
    + """
local rec = load(ARGV[3])
if not rec then return 0 end
drop(ARGV[3])
publish(ARGV[3], 'left', rec)
return 1
"""
)

# ARGV: channel, keys_ttl, identity
_FORGET_IDENTITY = (
    _PRELUDE
    + """
local entries = redis.call('HGETALL', people)
local count = 0
for i = 1, #entries, 2 do
  local rec = cmsgpack.unpack(entries[i + 1])
  if rec[3] == ARGV[3] then
    drop(entries[i])
    publish(entries[i], 'left', rec)
    count = count + 1
  end
end
return count
"""
)

# ARGV: channel, keys_ttl, identity
_FIND_IDENTITY = (
    _PRELUDE
    + """
local entries = redis.call('HGETALL', people)
for i = 1, #entries, 2 do
  local rec = cmsgpack.unpack(entries[i + 1])
  if rec[3] == ARGV[3] then return reply('found', entries[i], rec) end
end
return {'missing'}
"""
)

# ARGV: channel, keys_ttl, pid, identity, username, waiting_ttl
_REQUEUE = (
    _PRELUDE
    + """
local pid = ARGV[3]
local rec = {'w', now, ARGV[4], ARGV[5]}
store(pid, rec)
redis.call('ZADD', waiting, now, pid)
redis.call('ZADD', deadline, now + tonumber(ARGV[6]), pid)
extend_room_keys()
publish(pid, 'waiting', rec)
return reply('found', pid, rec)
"""
)

_CLEAR = (
    _PRELUDE
    + """
local entries = redis.call('HGETALL', people)
for i = 1, #entries, 2 do
  publish(entries[i], 'left', cmsgpack.unpack(entries[i + 1]))
end
redis.call('DEL', people, waiting, deadline)
return #entries / 2
"""
)


def _place(row: list[Any]) -> Place:
    # row: [tag, pid, code, requested_at, identity, username]
    return Place(
        id=text(row[1]),
        status=STATUS_CODES[text(row[2])],
        requested_at_ms=int(row[3]),
        identity=text(row[4]),
        username=text(row[5]),
    )


class RedisLobbyStore:
    def __init__(self, redis: RedisClient, timeouts: Timeouts) -> None:
        self._redis = redis
        self._timeouts = timeouts
        self._request = redis.register_script(_REQUEST)
        self._get = redis.register_script(_GET)
        self._waiting = redis.register_script(_WAITING)
        self._decide = redis.register_script(_DECIDE)
        self._decide_all = redis.register_script(_DECIDE_ALL)
        self._forget = redis.register_script(_FORGET)
        self._forget_identity = redis.register_script(_FORGET_IDENTITY)
        self._find_identity = redis.register_script(_FIND_IDENTITY)
        self._requeue = redis.register_script(_REQUEUE)
        self._clear = redis.register_script(_CLEAR)

    @staticmethod
    def keys(room: str) -> list[str]:
        prefix = f"lobby:{{{room}}}"
        return [f"{prefix}:people", f"{prefix}:waiting", f"{prefix}:deadline"]

    def _prelude_args(self, room: str) -> list[Any]:
        return [events_channel(room), self._timeouts.longest_ms + 60_000]

    async def request(
        self,
        room: str,
        participant_id: str,
        identity: str,
        username: str,
        client: str,
        max_waiting: int,
        rate_limit: RateLimit,
    ) -> RequestResult:
        keys = [*self.keys(room), f"lobby:{{{room}}}:rl:{client}"]
        args = [
            *self._prelude_args(room),
            participant_id,
            identity,
            username,
            self._timeouts.waiting_ms,
            max_waiting,
            rate_limit.limit,
            rate_limit.window_ms,
        ]
        row = await self._request(keys=keys, args=args)
        tag = text(row[0])
        if tag == "full":
            return RequestResult(RequestOutcome.FULL)
        if tag == "limited":
            return RequestResult(RequestOutcome.LIMITED, retry_after_ms=max(int(row[1]), 0))
        outcome = RequestOutcome.CREATED if tag == "created" else RequestOutcome.EXISTING
        return RequestResult(outcome, _place(row))

    async def get(self, room: str, participant_id: str, refresh: bool) -> Place | None:
        ttl = self._timeouts.waiting_ms if refresh else 0
        row = await self._get(
            keys=self.keys(room), args=[*self._prelude_args(room), participant_id, ttl]
        )
        return None if text(row[0]) == "missing" else _place(row)

    async def waiting(self, room: str) -> list[Place]:
        rows = await self._waiting(keys=self.keys(room), args=self._prelude_args(room))
        return [_place(row) for row in rows]

    async def decide(
        self, room: str, participant_id: str, status: Status
    ) -> tuple[DecisionOutcome, Place | None]:
        args = [
            *self._prelude_args(room),
            participant_id,
            CODES[status],
            self._timeouts.for_status(status),
        ]
        row = await self._decide(keys=self.keys(room), args=args)
        tag = text(row[0])
        if tag == "missing":
            return DecisionOutcome.MISSING, None
        return DecisionOutcome(tag), _place(row)

    async def decide_all(self, room: str, status: Status, limit: int | None = None) -> int:
        if limit is not None and limit <= 0:
            return 0
        stop = -1 if limit is None else limit - 1
        args = [*self._prelude_args(room), CODES[status], self._timeouts.for_status(status), stop]
        return int(await self._decide_all(keys=self.keys(room), args=args))

    async def forget(self, room: str, participant_id: str) -> bool:
        args = [*self._prelude_args(room), participant_id]
        return bool(await self._forget(keys=self.keys(room), args=args))

    async def forget_identity(self, room: str, identity: str) -> int:
        args = [*self._prelude_args(room), identity]
        return int(await self._forget_identity(keys=self.keys(room), args=args))

    async def find_identity(self, room: str, identity: str) -> Place | None:
        args = [*self._prelude_args(room), identity]
        row = await self._find_identity(keys=self.keys(room), args=args)
        return None if text(row[0]) == "missing" else _place(row)

    async def requeue(self, room: str, participant_id: str, identity: str, username: str) -> Place:
        args = [
            *self._prelude_args(room),
            participant_id,
            identity,
            username,
            self._timeouts.waiting_ms,
        ]
        return _place(await self._requeue(keys=self.keys(room), args=args))

    async def clear(self, room: str) -> None:
        await self._clear(keys=self.keys(room), args=self._prelude_args(room))

    async def close(self) -> None:
        """The Redis client belongs to the container, which closes it."""
