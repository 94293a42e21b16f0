"""One reconciler per room at a time, across processes: turns and locks in Redis (and in
memory for the single-process run)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest
from redis.asyncio import Redis

from antechamber.bans import MemoryBanStore, RedisBanStore
from antechamber.livekit.sdk_gateway import SdkLiveKitGateway
from antechamber.presence.reconciler import Outcome, Reconciler
from antechamber.presence.redis_store import RedisPresenceStore
from antechamber.presence.store import MemoryPresenceStore, PresentParticipant
from antechamber.presence.turns import MemoryTurns, RedisTurns, Turns, lock_key, turn_key
from antechamber.settings import ReconcileSettings
from tests.servers import closed_port


@pytest.fixture(params=["memory", "redis"])
async def turns(request: pytest.FixtureRequest) -> AsyncIterator[Turns]:
    if request.param == "memory":
        yield MemoryTurns()
        return
    redis = Redis.from_url(request.getfixturevalue("redis_url"))
    await redis.delete(lock_key("room-1"), turn_key("room-1", "all"))
    yield RedisTurns(redis)
    await redis.aclose()


async def test_it_gives_a_turn_to_one_caller_per_period(turns: Turns) -> None:
    assert await turns.take(turn_key("room-1", "all"), 60_000) is True
    assert await turns.take(turn_key("room-1", "all"), 60_000) is False
    assert await turns.take(turn_key("room-1", "banned"), 1) is True


async def test_it_locks_for_one_holder_and_only_the_holder_unlocks(turns: Turns) -> None:
    key = lock_key("room-1")
    token = await turns.lock(key, 60_000)
    assert token is not None
    assert await turns.lock(key, 60_000) is None
    await turns.unlock(key, "someone-else")
    assert await turns.lock(key, 60_000) is None
    await turns.unlock(key, token)
    again = await turns.lock(key, 60_000)
    assert again is not None
    await turns.unlock(key, again)


async def test_a_room_being_reconciled_elsewhere_is_left_alone(
    turns: Turns, gateway: SdkLiveKitGateway
) -> None:
    presence = MemoryPresenceStore()
    await presence.joined("room-1", PresentParticipant("ghost", "PA_ghost", "Ghost", 1))

    async def nothing_registered(_names: Sequence[str]) -> set[str]:
        return set()

    reconciler = Reconciler(
        ReconcileSettings(),
        1.0,
        gateway,
        presence,
        MemoryBanStore(),
        turns,
        nothing_registered,
    )
    held = await turns.lock(lock_key("room-1"), 60_000)
    assert held is not None
    assert await reconciler.reconcile_room("room-1") is None
    assert await presence.count("room-1") == 1
    await turns.unlock(lock_key("room-1"), held)
    # LiveKit has no such room: the ghost goes.
    assert await reconciler.reconcile_room("room-1") == Outcome(removed=(), changed=1)
    assert await presence.count("room-1") == 0
    # The lock was given back.
    assert await reconciler.reconcile_room("room-1") == Outcome(removed=(), changed=0)


async def test_a_redis_outage_skips_the_room_without_raising(gateway: SdkLiveKitGateway) -> None:
    # Nothing listens there: Redis is down for this reconciler.
    down = Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0", socket_connect_timeout=0.5)

    async def nothing_registered(_names: Sequence[str]) -> set[str]:
        return set()

    reconciler = Reconciler(
        ReconcileSettings(),
        1.0,
        gateway,
        RedisPresenceStore(down),
        RedisBanStore(down),
        RedisTurns(down),
        nothing_registered,
    )
    try:
        assert await reconciler.reconcile_room("room-1") is None
        await reconciler._guarded("banned", reconciler.banned_pass())
    finally:
        await down.aclose()
