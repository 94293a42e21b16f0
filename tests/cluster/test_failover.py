"""Pub/sub across the cluster's nodes, and a master killed under live traffic: calls are
retried on the new topology, and no place, decision, session, ban or webhook mark is
lost."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from antechamber.auth.sessions import RedisKeyValueStore, SessionService
from antechamber.bans import RedisBanStore
from antechamber.lobby.redis_store import RedisLobbyStore
from antechamber.lobby.store import (
    LOBBY_EVENTS_PATTERN,
    DecisionOutcome,
    RateLimit,
    Status,
    Timeouts,
    events_channel,
)
from antechamber.pubsub import RedisBroker
from antechamber.webhooks.processed import Claim, RedisProcessedEvents
from tests.redis_cluster import RedisClusterBed, cluster_client, start_cluster_or_skip

TIMEOUTS = Timeouts(waiting_ms=120_000, accepted_ms=120_000, denied_ms=120_000)
NO_LIMIT = RateLimit(0)


def node_of(broker: RedisBroker) -> str:
    client = broker._node_client
    assert client is not None
    kwargs = client.connection_pool.connection_kwargs
    return f"{kwargs['host']}:{kwargs['port']}"


async def test_it_delivers_every_publish_to_subscribers_on_every_node(
    redis_cluster: RedisClusterBed,
) -> None:
    publisher = cluster_client(redis_cluster)
    clients, brokers = [], []
    replicas = {n.name for n in redis_cluster.running()} - {n.name for n in redis_cluster.masters()}
    try:
        # Brokers pick a node at random; keep making them until they sit on several
        # nodes, a replica among them.
        for _ in range(40):
            client = cluster_client(redis_cluster)
            broker = RedisBroker(client, (LOBBY_EVENTS_PATTERN,))
            await broker.start()
            clients.append(client)
            brokers.append(broker)
            nodes = {node_of(b) for b in brokers}
            if len(nodes) >= 3 and nodes & replicas:
                break
        assert len({node_of(b) for b in brokers}) >= 3
        rooms = [f"room-{i}" for i in range(12)]  # spread over the three masters' slots
        async with contextlib_all(
            [b.subscribe(events_channel(r)) for b in brokers for r in rooms]
        ) as subscriptions:
            for room in rooms:
                await publisher.publish(events_channel(room), f"hello {room}")
            for index, subscription in enumerate(subscriptions):
                room = rooms[index % len(rooms)]
                assert await subscription.next(5) == f"hello {room}"
    finally:
        for broker in brokers:
            await broker.close()
        for client in clients:
            await client.aclose()
        await publisher.aclose()


class contextlib_all:
    """Enters many async context managers; exits them all."""

    def __init__(self, managers: list) -> None:  # type: ignore[type-arg]
        self._managers = managers
        self._entered: list = []  # type: ignore[type-arg]

    async def __aenter__(self) -> list:  # type: ignore[type-arg]
        for manager in self._managers:
            self._entered.append(await manager.__aenter__())
        return self._entered

    async def __aexit__(self, *exc: object) -> None:
        for manager in reversed(self._managers[: len(self._entered)]):
            await manager.__aexit__(None, None, None)


@pytest.fixture
def own_cluster() -> Iterator[RedisClusterBed]:
    """Its own cluster: this test kills a node."""
    bed = start_cluster_or_skip()
    try:
        yield bed
    finally:
        bed.stop()


@pytest.fixture
async def client(own_cluster: RedisClusterBed) -> AsyncIterator[Redis]:
    redis = cluster_client(own_cluster, retry_s=15)
    yield redis  # type: ignore[misc]
    await redis.aclose()


async def test_it_survives_a_master_failover_losing_nothing(
    own_cluster: RedisClusterBed, client: Redis
) -> None:
    store = RedisLobbyStore(client, TIMEOUTS)
    sessions = SessionService(RedisKeyValueStore(client), 3600)
    bans = RedisBanStore(client)
    processed = RedisProcessedEvents(client)
    broker = RedisBroker(client, (LOBBY_EVENTS_PATTERN,))
    await broker.start()
    rooms = [f"room-{i}" for i in range(30)]
    user = uuid.uuid4()
    try:
        for room in rooms:
            await store.request(room, "p1", "id-1", "Ann", "10.0.0.1", 100, NO_LIMIT)
            await store.request(room, "p2", "id-2", "Bob", "10.0.0.1", 100, NO_LIMIT)
            assert (await store.decide(room, "p1", Status.ACCEPTED))[0] is DecisionOutcome.DECIDED
            await bans.ban(room, "id-9", 600)
        session_ids = [await sessions.create(user) for _ in range(30)]
        for i in range(30):
            assert await processed.claim(f"event-{i}", "t") is Claim.NEW
            await processed.finish(f"event-{i}")
        victim_room = rooms[0]
        victim = own_cluster.master_of(f"lobby:{{{victim_room}}}:people")
        # Writes are acknowledged by the master before its replica has them: wait until
        # the replica has them all (a fixed pause is too short on a loaded machine).
        await asyncio.to_thread(own_cluster.wait_replicated, victim)

        own_cluster.kill(victim)
        killed_at = time.monotonic()
        async with broker.subscribe(events_channel(victim_room)) as subscription:
            # The first call to the dead master's slots waits for the failover.
            place = await store.get(victim_room, "p2", refresh=True)
            recovered_s = time.monotonic() - killed_at
            assert place is not None
            assert place.status is Status.WAITING
            outcome, decided = await store.decide(victim_room, "p2", Status.DENIED)
            assert outcome is DecisionOutcome.DECIDED
            assert decided is not None
            # Events reach the subscriber again (re-subscribed on another node if its own
            # died). The decision's own event may have gone out before that (a stream
            # re-reads its state on its tick), so publish until one arrives.
            deadline = time.monotonic() + 15
            heard = None
            while heard is None and time.monotonic() < deadline:
                heard = await subscription.next(1)
                if heard is None:
                    await client.publish(events_channel(victim_room), "after the failover")
            assert heard is not None
        print(f"\nfailover: first call answered {recovered_s:.2f} s after the kill")
        own_cluster.wait_ok()
        for room in rooms:
            first = await store.get(room, "p1", refresh=False)
            assert first is not None
            assert first.status is Status.ACCEPTED, room
            second = await store.get(room, "p2", refresh=False)
            assert second is not None
            assert second.status is (Status.DENIED if room == victim_room else Status.WAITING)
            assert await bans.is_banned(room, "id-9")
        for session_id in session_ids:
            loaded = await sessions.load(session_id)
            assert loaded is not None
            assert loaded.user_id == user
        for i in range(30):
            assert await processed.claim(f"event-{i}", "t2") is Claim.DONE
    finally:
        await broker.close()
