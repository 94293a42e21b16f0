"""The lobby in Redis: one Lua script per transition, so each is atomic on any process.

Key layout (all keys of a room share the Cluster hash tag `{<room>}`):
  lobby:{<room>}:people     hash   participant id -> msgpack [status code, requested_at ms,
                                   identity ("" when it is the participant id), username]
                                   (status codes: w, a, d)
  lobby:{<room>}:deadline   zset   every place by expiry time (ms): purged lazily by every
                                   script before it reads, so expiry is exact and costs
                                   nothing while the room is idle
  lobby:{<room>}:meta       hash   n: how many places wait; e, v: the lobby's version
                                   (e: Redis time when the hash was made, v: changes since)
  lobby:{<room>}:rl:<addr>  string new places from one client address in the window
Participant ids are stored as their 16 bytes when they are UUIDs (every id the service
makes), as NUL-prefixed text otherwise; events and answers carry the text form. The
waiting list is the people hash filtered on status and sorted by arrival (then id): one
index (deadlines) instead of a second sorted set of the same ids, which keeps a waiting
place under 400 bytes of Redis (bench/run_all.py's `memory` row).
The room keys expire together after the longest timeout without a write, so an
abandoned room leaves nothing behind. Time comes from Redis (`TIME`), so hosts with
skewed clocks agree. No KEYS/SCAN anywhere: every script touches one room's keys (and,
for request-entry, the caller's ban key, which has the same hash tag).
"""

from __future__ import annotations

from typing import Any

from antechamber.bans import ban_key
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
    WaitingList,
    events_channel,
)
from antechamber.redis_client import RedisClient, ScriptLane, text

_PRELUDE = """
local people, deadline, meta = KEYS[1], KEYS[2], KEYS[3]
local channel, keys_ttl = ARGV[1], tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local NAMES = {w = 'waiting', a = 'accepted', d = 'denied'}

local function hex(c) return string.format('%02x', string.byte(c)) end
local function uid(pid)
  if #pid ~= 16 then return (string.gsub(pid, '^%z+', '')) end
  local h = string.gsub(pid, '.', hex)
  return string.sub(h, 1, 8) .. '-' .. string.sub(h, 9, 12) .. '-' .. string.sub(h, 13, 16)
    .. '-' .. string.sub(h, 17, 20) .. '-' .. string.sub(h, 21, 32)
end
-- A PlaceEvent (lobby/store.py): the same four keys.
local function publish(pid, status, rec)
  redis.call('HSETNX', meta, 'e', clock[1] .. '.' .. clock[2])
  redis.call('HINCRBY', meta, 'v', 1)
  redis.call('PUBLISH', channel, cjson.encode({
    id = uid(pid), status = status, username = rec[4], requested_at = rec[2]}))
end
local function count(delta)
  redis.call('HINCRBY', meta, 'n', delta)
end
local function load(pid)
  local raw = redis.call('HGET', people, pid)
  if not raw then return nil end
  return cmsgpack.unpack(raw)
end
local function store(pid, rec)
  redis.call('HSET', people, pid, cmsgpack.pack(rec))
end
local function drop(pid, rec)
  redis.call('HDEL', people, pid)
  redis.call('ZREM', deadline, pid)
  if rec[1] == 'w' then count(-1) end
end
local function extend_room_keys()
  redis.call('PEXPIRE', people, keys_ttl)
  redis.call('PEXPIRE', deadline, keys_ttl)
  redis.call('PEXPIRE', meta, keys_ttl)
end
local function purge()
  local expired = redis.call('ZRANGEBYSCORE', deadline, '-inf', now, 'LIMIT', 0, 1000)
  for _, pid in ipairs(expired) do
    local rec = load(pid)
    if rec then
      drop(pid, rec)
      if rec[1] == 'w' then publish(pid, 'left', rec) end
    else
      redis.call('ZREM', deadline, pid)
    end
  end
end
local function version()
  local ev = redis.call('HMGET', meta, 'e', 'v')
  return (ev[1] or '') .. ':' .. (ev[2] or '0')
end
local function fresh()
  local first = redis.call('ZRANGE', deadline, 0, 0, 'WITHSCORES')
  if #first == 0 then return -1 end
  return math.max(0, tonumber(first[2]) - now)
end
local function reply(tag, pid, rec)
  return {tag, pid, rec[1], rec[2], rec[3], rec[4]}
end
local function is_before(x, y)
  -- arrival time, then the id's bytes (their order is the text ids' order)
  if x[2] ~= y[2] then return x[2] < y[2] end
  local n = math.min(#x[1], #y[1])
  for i = 1, n do
    local a, b = string.byte(x[1], i), string.byte(y[1], i)
    if a ~= b then return a < b end
  end
  return #x[1] < #y[1]
end
purge()
"""

# KEYS: people, deadline, meta, rate-limit counter, ban key.
# ARGV: channel, keys_ttl, pid, identity, username, waiting_ttl, max_waiting, rl_limit,
# rl_window. The ban is checked first: a banned caller's place is neither read nor kept.
_REQUEST = (
    _PRELUDE
    + """
if redis.call('EXISTS', KEYS[5]) == 1 then return {'banned'} end
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
if tonumber(redis.call('HGET', meta, 'n') or '0') >= max_waiting then return {'full'} end
if rl_limit > 0 then
  local n = redis.call('INCR', KEYS[4])
  if n == 1 then redis.call('PEXPIRE', KEYS[4], rl_window) end
  if n > rl_limit then return {'limited', redis.call('PTTL', KEYS[4])} end
end
rec = {'w', now, identity, username}
store(pid, rec)
redis.call('ZADD', deadline, now + waiting_ttl, pid)
count(1)
publish(pid, 'waiting', rec)
extend_room_keys()
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

# Returns {version, fresh ms, then per waiting place: pid, requested_at, identity, username}
# in no particular order (the caller sorts: no sorting work inside Redis).
_WAITING = (
    _PRELUDE
    + """
local entries = redis.call('HGETALL', people)
local result = {version(), fresh()}
for i = 1, #entries, 2 do
  local rec = cmsgpack.unpack(entries[i + 1])
  if rec[1] == 'w' then
    result[#result + 1] = entries[i]
    result[#result + 1] = rec[2]
    result[#result + 1] = rec[3]
    result[#result + 1] = rec[4]
  end
end
return result
"""
)

_VERSION = (
    _PRELUDE
    + """
return {version(), fresh()}
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
count(-1)
redis.call('ZADD', deadline, now + tonumber(ARGV[5]), pid)
publish(pid, NAMES[code], rec)
extend_room_keys()
return reply('decided', pid, rec)
"""
)

# ARGV: channel, keys_ttl, code, ttl, limit (-1: all)
_DECIDE_ALL = (
    _PRELUDE
    + """
local code, ttl, limit = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local entries = redis.call('HGETALL', people)
local chosen = {}
for i = 1, #entries, 2 do
  local rec = cmsgpack.unpack(entries[i + 1])
  if rec[1] == 'w' then chosen[#chosen + 1] = {entries[i], rec[2], rec} end
end
if limit >= 0 and limit < #chosen then
  table.sort(chosen, is_before)
  for i = #chosen, limit + 1, -1 do chosen[i] = nil end
end
for _, row in ipairs(chosen) do
  local pid, rec = row[1], row[3]
  rec[1] = code
  store(pid, rec)
  count(-1)
  redis.call('ZADD', deadline, now + ttl, pid)
  publish(pid, NAMES[code], rec)
end
if #chosen > 0 then extend_room_keys() end
return #chosen
"""
)

# ARGV: channel, keys_ttl, pid
_FORGET = (
    _PRELUDE
    + """
local rec = load(ARGV[3])
if not rec then return 0 end
drop(ARGV[3], rec)
publish(ARGV[3], 'left', rec)
return 1
"""
)

# ARGV: channel, keys_ttl, identity, the identity as a stored participant id
# (a place whose identity is "" joins as its own participant id).
_MATCH = """
local function matches(pid, rec)
  return rec[3] == ARGV[3] or (rec[3] == '' and pid == ARGV[4])
end
"""

_FORGET_IDENTITY = (
    _PRELUDE
    + _MATCH
    + """
local entries = redis.call('HGETALL', people)
local n = 0
for i = 1, #entries, 2 do
  local rec = cmsgpack.unpack(entries[i + 1])
  if matches(entries[i], rec) then
    drop(entries[i], rec)
    publish(entries[i], 'left', rec)
    n = n + 1
  end
end
return n
"""
)

_FIND_IDENTITY = (
    _PRELUDE
    + _MATCH
    + """
local entries = redis.call('HGETALL', people)
for i = 1, #entries, 2 do
  local rec = cmsgpack.unpack(entries[i + 1])
  if matches(entries[i], rec) then return reply('found', entries[i], rec) end
end
return {'missing'}
"""
)

# ARGV: channel, keys_ttl, pid, identity, username, waiting_ttl
_REQUEUE = (
    _PRELUDE
    + """
local pid = ARGV[3]
local before = load(pid)
if not before or before[1] ~= 'w' then count(1) end
local rec = {'w', now, ARGV[4], ARGV[5]}
store(pid, rec)
redis.call('ZADD', deadline, now + tonumber(ARGV[6]), pid)
publish(pid, 'waiting', rec)
extend_room_keys()
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
redis.call('DEL', people, deadline, meta)
return #entries / 2
"""
)


def encode_id(participant_id: str) -> bytes:
    """A participant id as stored: a UUID's 16 bytes, or NUL-prefixed text (never 16 bytes
    long, and text ids never start with NUL, so decoding is unambiguous)."""
    if len(participant_id) == 36:
        try:
            raw = bytes.fromhex(participant_id.replace("-", ""))
        except ValueError:
            raw = b""
        if len(raw) == 16 and decode_id(raw) == participant_id:
            return raw
    text = participant_id.encode()
    return (b"\0\0" if len(text) == 15 else b"\0") + text


def decode_id(raw: bytes) -> str:
    if len(raw) == 16:
        h = raw.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return raw.lstrip(b"\0").decode()


def _place(row: list[Any]) -> Place:
    # row: [tag, pid, code, requested_at, identity, username]
    pid = decode_id(row[1])
    return Place(
        id=pid,
        status=STATUS_CODES[text(row[2])],
        requested_at_ms=int(row[3]),
        identity=text(row[4]) or pid,
        username=text(row[5]),
    )


class RedisLobbyStore:
    def __init__(
        self, redis: RedisClient, timeouts: Timeouts, lane: ScriptLane | None = None
    ) -> None:
        self._redis = redis
        self._timeouts = timeouts
        # Runs the poll's script when given (see `ScriptLane`).
        self._lane = lane
        self._request = redis.register_script(_REQUEST)
        self._get = redis.register_script(_GET)
        self._waiting = redis.register_script(_WAITING)
        self._version = redis.register_script(_VERSION)
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
        return [f"{prefix}:people", f"{prefix}:deadline", f"{prefix}:meta"]

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
        keys = [
            *self.keys(room),
            f"lobby:{{{room}}}:rl:{client}",
            ban_key(room, identity),
        ]
        args = [
            *self._prelude_args(room),
            encode_id(participant_id),
            "" if identity == participant_id else identity,
            username,
            self._timeouts.waiting_ms,
            max_waiting,
            rate_limit.limit,
            rate_limit.window_ms,
        ]
        if self._lane is not None:
            row = await self._lane.run(self._request, keys, args)
        else:
            row = await self._request(keys=keys, args=args)
        tag = text(row[0])
        if tag == "banned":
            return RequestResult(RequestOutcome.BANNED)
        if tag == "full":
            return RequestResult(RequestOutcome.FULL)
        if tag == "limited":
            return RequestResult(RequestOutcome.LIMITED, retry_after_ms=max(int(row[1]), 0))
        outcome = RequestOutcome.CREATED if tag == "created" else RequestOutcome.EXISTING
        return RequestResult(outcome, _place(row))

    async def get(self, room: str, participant_id: str, refresh: bool) -> Place | None:
        ttl = self._timeouts.waiting_ms if refresh else 0
        args = [*self._prelude_args(room), encode_id(participant_id), ttl]
        row = await self._get(keys=self.keys(room), args=args)
        return None if text(row[0]) == "missing" else _place(row)

    async def waiting(self, room: str) -> list[Place]:
        return (await self.waiting_list(room)).places

    async def waiting_list(self, room: str) -> WaitingList:
        flat = await self._waiting(keys=self.keys(room), args=self._prelude_args(room))
        # Sorted here, not in Redis, by the memory store's key: arrival, then id.
        rows = sorted(
            (int(flat[i + 1]), decode_id(flat[i]), flat[i + 2], flat[i + 3])
            for i in range(2, len(flat), 4)
        )
        waiting = Status.WAITING
        places = [
            Place(pid, waiting, text(username), text(identity) or pid, requested_at)
            for requested_at, pid, identity, username in rows
        ]
        return WaitingList(places, text(flat[0]), int(flat[1]))

    async def version(self, room: str) -> tuple[str, int]:
        row = await self._version(keys=self.keys(room), args=self._prelude_args(room))
        return text(row[0]), int(row[1])

    async def decide(
        self, room: str, participant_id: str, status: Status
    ) -> tuple[DecisionOutcome, Place | None]:
        args = [
            *self._prelude_args(room),
            encode_id(participant_id),
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
        args = [
            *self._prelude_args(room),
            CODES[status],
            self._timeouts.for_status(status),
            -1 if limit is None else limit,
        ]
        return int(await self._decide_all(keys=self.keys(room), args=args))

    async def forget(self, room: str, participant_id: str) -> bool:
        args = [*self._prelude_args(room), encode_id(participant_id)]
        return bool(await self._forget(keys=self.keys(room), args=args))

    async def forget_identity(self, room: str, identity: str) -> int:
        args = [*self._prelude_args(room), identity, encode_id(identity)]
        return int(await self._forget_identity(keys=self.keys(room), args=args))

    async def find_identity(self, room: str, identity: str) -> Place | None:
        args = [*self._prelude_args(room), identity, encode_id(identity)]
        row = await self._find_identity(keys=self.keys(room), args=args)
        return None if text(row[0]) == "missing" else _place(row)

    async def requeue(self, room: str, participant_id: str, identity: str, username: str) -> Place:
        args = [
            *self._prelude_args(room),
            encode_id(participant_id),
            "" if identity == participant_id else identity,
            username,
            self._timeouts.waiting_ms,
        ]
        return _place(await self._requeue(keys=self.keys(room), args=args))

    async def clear(self, room: str) -> None:
        await self._clear(keys=self.keys(room), args=self._prelude_args(room))

    async def close(self) -> None:
        """The Redis client belongs to the container, which closes it."""
