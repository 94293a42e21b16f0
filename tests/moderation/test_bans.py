"""The ban stores: a ban holds for its room and identity only, and ends by itself."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from antechamber.bans import BanStore, MemoryBanStore, RedisBanStore, ban_key
from tests.redis_cluster import cluster_client

ROOM, OTHER = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"


@pytest.fixture(params=["memory", "redis", "cluster"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[BanStore]:
    if request.param == "memory":
        yield MemoryBanStore()
        return
    if request.param == "cluster":
        cluster = cluster_client(request.getfixturevalue("redis_cluster"))
        yield RedisBanStore(cluster)
        await cluster.aclose()
        return
    client = Redis.from_url(request.getfixturevalue("redis_url"))
    await client.flushdb()
    yield RedisBanStore(client)
    await client.aclose()


async def test_it_bans_one_identity_in_one_room(store: BanStore) -> None:
    assert await store.is_banned(ROOM, "carol") is False
    await store.ban(ROOM, "carol", 60)
    assert await store.is_banned(ROOM, "carol") is True
    assert await store.is_banned(ROOM, "dave") is False
    assert await store.is_banned(OTHER, "carol") is False


async def test_it_lets_redis_end_the_ban(redis: Redis) -> None:
    await RedisBanStore(redis).ban(ROOM, "carol", 600)
    assert 0 < await redis.ttl(ban_key(ROOM, "carol")) <= 600
    assert ban_key(ROOM, "carol") == f"ban:{{{ROOM}}}:carol"
