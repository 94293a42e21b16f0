"""The lobby store contract runs against both implementations."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from antechamber.bans import BanStore, MemoryBanStore, RedisBanStore
from antechamber.lobby.memory_store import MemoryLobbyStore
from antechamber.lobby.redis_store import RedisLobbyStore
from antechamber.lobby.store import LOBBY_EVENTS_PATTERN, LobbyStore, Timeouts
from antechamber.pubsub import Broker, MemoryBroker, RedisBroker
from antechamber.redis_client import RedisClient, ScriptLane
from tests.redis_cluster import cluster_client


@dataclass
class StoreUnderTest:
    store: LobbyStore
    broker: Broker
    bans: BanStore  # the ban store the lobby store reads bans from


StoreFactory = Callable[[Timeouts], StoreUnderTest]
DEFAULT_TIMEOUTS = Timeouts(waiting_ms=60_000, accepted_ms=60_000, denied_ms=60_000)


@pytest.fixture(params=["memory", "redis", "cluster"])
async def make_store(request: pytest.FixtureRequest) -> AsyncIterator[StoreFactory]:
    """The contract runs on memory, one Redis server and a 6-node Redis Cluster."""
    redis: RedisClient | None = None
    brokers: list[Broker] = []
    lanes: list[ScriptLane] = []
    if request.param == "redis":
        redis = Redis.from_url(request.getfixturevalue("redis_url"))
        await redis.flushdb()
    if request.param == "cluster":
        redis = cluster_client(request.getfixturevalue("redis_cluster"))

    def factory(timeouts: Timeouts = DEFAULT_TIMEOUTS) -> StoreUnderTest:
        if redis is not None:
            broker: Broker = RedisBroker(redis, (LOBBY_EVENTS_PATTERN,))
            brokers.append(broker)
            # One server: the poll's script runs on a lane, as in a served process.
            lane = ScriptLane(redis.connection_pool, 2) if isinstance(redis, Redis) else None
            if lane is not None:
                lanes.append(lane)
            redis_store = RedisLobbyStore(redis, timeouts, lane)
            return StoreUnderTest(redis_store, broker, RedisBanStore(redis))
        memory = MemoryBroker()
        brokers.append(memory)
        bans = MemoryBanStore()
        store = MemoryLobbyStore(timeouts, memory.publish_now, banned=bans.banned_now)
        return StoreUnderTest(store, memory, bans)

    yield factory
    for broker in brokers:
        await broker.close()
    for lane in lanes:
        await lane.close()
    if isinstance(redis, Redis):
        await redis.flushdb()
    if redis is not None:
        await redis.aclose()
