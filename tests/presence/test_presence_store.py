"""One contract for both presence stores (memory for the embedded default, Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from antechamber.presence.redis_store import RedisPresenceStore, presence_key
from antechamber.presence.store import MemoryPresenceStore, PresenceStore, PresentParticipant

ALICE = PresentParticipant("alice", "PA_a", "Alice", 10)
BOB = PresentParticipant("bob", "PA_b", "Bob", 5)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[PresenceStore]:
    if request.param == "memory":
        yield MemoryPresenceStore()
        return
    redis = Redis.from_url(request.getfixturevalue("redis_url"))
    await redis.delete(presence_key("room-1"), presence_key("room-2"))
    yield RedisPresenceStore(redis)
    await redis.aclose()


async def test_it_lists_participants_by_join_time(store: PresenceStore) -> None:
    await store.joined("room-1", ALICE)
    await store.joined("room-1", BOB)
    await store.joined("room-2", PresentParticipant("carol", "PA_c", "Carol", 1))
    assert await store.participants("room-1") == [BOB, ALICE]


async def test_it_forgets_who_left_unless_they_came_back(store: PresenceStore) -> None:
    await store.joined("room-1", ALICE)
    back = PresentParticipant("alice", "PA_a2", "Alice", 20)
    await store.joined("room-1", back)
    await store.left("room-1", "alice", "PA_a")  # the old connection's late `left`
    assert await store.participants("room-1") == [back]
    await store.left("room-1", "alice", "PA_a2")
    await store.left("room-1", "nobody", "PA_x")
    assert await store.participants("room-1") == []


async def test_it_clears_one_room_only(store: PresenceStore) -> None:
    await store.joined("room-1", ALICE)
    await store.joined("room-2", BOB)
    await store.clear_room("room-1")
    await store.clear_room("room-1")
    assert await store.participants("room-1") == []
    assert await store.participants("room-2") == [BOB]
