"""How the Redis lobby stores a place: what bench/run_all.py's `memory` row measures."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis

from antechamber.lobby.redis_store import RedisLobbyStore, decode_id, encode_id
from antechamber.lobby.store import RateLimit, RequestOutcome, Timeouts
from antechamber.presence.turns import LEASE_KEY

ROOM = "33333333-3333-4333-8333-333333333333"
PLACES = 1000


async def test_it_keeps_a_room_in_three_keys_with_ids_as_sixteen_bytes(redis: Redis) -> None:
    store = RedisLobbyStore(redis, Timeouts(60_000, 60_000, 60_000))
    for n in range(PLACES):
        pid = str(uuid.uuid4())
        result = await store.request(
            ROOM, pid, pid, f"guest-{n:05d}", "127.0.0.1", PLACES, RateLimit(0)
        )
        assert result.outcome is RequestOutcome.CREATED
    keys = sorted(k.decode() if isinstance(k, bytes) else k for k in await redis.keys("*"))
    # An app running alongside (the session's LiveKit-wired one, tests/livekit) renews
    # its reconciler's lease in this db every second: not the lobby's.
    keys = [key for key in keys if not key.startswith(LEASE_KEY)]
    assert keys == sorted(RedisLobbyStore.keys(ROOM))
    people, deadline, meta = RedisLobbyStore.keys(ROOM)
    fields = await redis.hkeys(people)
    assert len(fields) == PLACES
    assert {len(field) for field in fields} == {16}
    assert {len(member) for member in await redis.zrange(deadline, 0, -1)} == {16}
    assert await redis.hget(meta, "n") == str(PLACES).encode()
    usage = [await redis.memory_usage(key, samples=0) or 0 for key in keys]
    per_place = sum(usage) / PLACES
    print(f"MEMORY USAGE per place: {per_place:.1f} B ({dict(zip(keys, usage, strict=True))})")
    assert per_place < 400  # the design's bound (bytes, not time: deterministic per build)


def test_it_encodes_ids_so_every_text_comes_back() -> None:
    some = str(uuid.uuid4())
    assert len(encode_id(some)) == 16
    assert encode_id(some.upper()) != bytes.fromhex(some.replace("-", ""))  # not canonical
    for text in (some, some.upper(), "", "a", "x" * 15, "y" * 16, "z" * 36, "ü" * 8):
        assert decode_id(encode_id(text)) == text
        assert len(encode_id(text)) == 16 or not encode_id(text)[:1].isalnum()
