"""One contract for both presence stores (memory for the embedded default, Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from antechamber.presence.redis_store import (
    ROOMS_KEY,
    RedisPresenceStore,
    gone_key,
    presence_key,
)
from antechamber.presence.store import (
    Change,
    Left,
    MemoryPresenceStore,
    PresenceStore,
    PresentParticipant,
)
from tests.redis_cluster import cluster_client

ALICE = PresentParticipant("alice", "PA_a", "Alice", 10)
BOB = PresentParticipant("bob", "PA_b", "Bob", 5)


@pytest.fixture(params=["memory", "redis", "cluster"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[PresenceStore]:
    if request.param == "memory":
        yield MemoryPresenceStore()
        return
    if request.param == "cluster":
        cluster = cluster_client(request.getfixturevalue("redis_cluster"))
        yield RedisPresenceStore(cluster)
        await cluster.aclose()
        return
    redis = Redis.from_url(request.getfixturevalue("redis_url"))
    rooms = ("room-1", "room-2")
    await redis.delete(ROOMS_KEY, *map(presence_key, rooms), *map(gone_key, rooms))
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


async def test_it_ignores_a_joined_that_comes_after_its_left(store: PresenceStore) -> None:
    assert await store.left("room-1", "alice", "PA_a") is Left.UNKNOWN
    assert await store.joined("room-1", ALICE) is False
    assert await store.participants("room-1") == []
    # Another connection of the same identity is listed as usual.
    back = PresentParticipant("alice", "PA_a2", "Alice", 20)
    assert await store.joined("room-1", back) is True
    assert await store.left("room-1", "alice", "PA_a") is Left.STALE
    assert await store.participants("room-1") == [back]
    assert await store.left("room-1", "alice", "PA_a2") is Left.REMOVED
    assert await store.count("room-1") == 0


async def test_it_applies_changes_only_where_nothing_changed_meanwhile(
    store: PresenceStore,
) -> None:
    await store.joined("room-1", ALICE)
    await store.joined("room-1", BOB)
    renamed_bob = PresentParticipant("bob", "PA_b", "Robert", 5)
    carol = PresentParticipant("carol", "PA_c", "Carol", 30)
    applied = await store.apply(
        "room-1",
        [
            Change("alice", "PA_old", None),  # alice rejoined since that view: kept
            Change("bob", "PA_b", renamed_bob),
            Change("carol", "", carol),
            Change("dave", "PA_d", None),  # not listed, and expected to be: skipped
        ],
    )
    assert applied == 2
    assert await store.participants("room-1") == [renamed_bob, ALICE, carol]
    assert await store.count("room-1") == 3
    assert await store.rooms(10) == ["room-1"]
    stale = [("alice", "PA_x"), ("bob", "PA_y")]  # connections that are no longer listed
    assert await store.apply("room-1", [Change(p, s, None) for p, s in stale]) == 0
    everyone = [("alice", "PA_a"), ("bob", "PA_b"), ("carol", "PA_c")]
    assert await store.apply("room-1", [Change(p, s, None) for p, s in everyone]) == 3
    assert await store.participants("room-1") == []
    assert await store.count("room-1") == 0
    assert await store.rooms(10) == []
