"""One reconciler per room at a time, across processes: turns and locks in Redis (and in
memory for the single-process run); the periodic passes in one process at a time (the
lease)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis

from antechamber.bans import MemoryBanStore, RedisBanStore
from antechamber.livekit.twirp import TwirpLiveKitGateway
from antechamber.presence import reconciler as reconciler_module
from antechamber.presence.reconciler import Outcome, Reconciler
from antechamber.presence.redis_store import RedisPresenceStore
from antechamber.presence.store import MemoryPresenceStore, PresentParticipant
from antechamber.presence.turns import (
    LEASE_KEY,
    MemoryTurns,
    RedisTurns,
    Turns,
    lease_key,
    lock_key,
    turn_key,
)
from antechamber.settings import ReconcileSettings
from tests.servers import closed_port


@pytest.fixture
async def gateway_down() -> AsyncIterator[TwirpLiveKitGateway]:
    """A gateway to a LiveKit that is down: every call fails at once, once it is built."""
    gateway = TwirpLiveKitGateway(f"http://127.0.0.1:{closed_port()}", "key", "secret" * 6, 1.0)
    yield gateway
    await gateway.close()


# Not the tests' db 0: the session's LiveKit-wired app (tests/livekit/conftest.py) runs a
# reconciler there, which would compete for the lease.
LEASE_TEST_DB = 3


@pytest.fixture(params=["memory", "redis"])
async def turns(request: pytest.FixtureRequest) -> AsyncIterator[Turns]:
    if request.param == "memory":
        yield MemoryTurns()
        return
    url = urlsplit(request.getfixturevalue("redis_url"))._replace(path=f"/{LEASE_TEST_DB}")
    redis = Redis.from_url(url.geturl())
    await redis.flushdb()
    yield RedisTurns(redis)
    await redis.flushdb()
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
    turns: Turns, gateway: TwirpLiveKitGateway
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


async def test_a_redis_outage_skips_the_room_without_raising(gateway: TwirpLiveKitGateway) -> None:
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


async def test_it_stops_when_asked_right_after_a_wake(
    turns: Turns, gateway: TwirpLiveKitGateway
) -> None:
    """A stop that follows a `request` at once: the loop's wait ends both ways at the same
    moment. (Built on `asyncio.wait_for`, Python 3.11 lost that cancellation and the stop
    waited for ever: an app shut-down hung in the test suite.)"""

    async def nothing_registered(_names: Sequence[str]) -> set[str]:
        return set()

    reconciler = Reconciler(
        ReconcileSettings(interval_s=3600, banned_interval_s=300),
        1.0,
        gateway,
        MemoryPresenceStore(),
        MemoryBanStore(),
        turns,
        nothing_registered,
    )
    for _ in range(20):
        reconciler.start()
        task = reconciler._task
        assert task is not None
        await asyncio.sleep(0.01)  # waiting for its next pass
        reconciler.request("room-1")
        await asyncio.wait_for(reconciler.stop(), 30)
        assert task.done()


async def test_a_lease_is_held_by_one_token_renewed_by_it_and_taken_once_free(
    turns: Turns,
) -> None:
    assert await turns.hold(LEASE_KEY, "process-a", 60_000) is True
    assert await turns.hold(LEASE_KEY, "process-b", 60_000) is False
    assert await turns.hold(LEASE_KEY, "process-a", 60_000) is True  # renewed
    await turns.unlock(LEASE_KEY, "process-b")  # not b's to give back
    assert await turns.hold(LEASE_KEY, "process-b", 60_000) is False
    await turns.unlock(LEASE_KEY, "process-a")
    assert await turns.hold(LEASE_KEY, "process-b", 100) is True
    assert await turns.hold(LEASE_KEY, "process-a", 60_000) is False
    await asyncio.sleep(0.3)  # b stopped renewing: its lease ends by itself
    assert await turns.hold(LEASE_KEY, "process-a", 60_000) is True


async def _until(check: Callable[[], Awaitable[bool]], what: str, within_s: float = 30) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        assert time.monotonic() < deadline, f"not within {within_s} s: {what}"
        await asyncio.sleep(0.05)


async def test_one_process_at_a_time_runs_the_periodic_passes_and_loads_the_sdk(
    turns: Turns, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes' reconcilers (the same lease store): only the lease holder sweeps,
    so only its gateway ever calls LiveKit; when it stops
    it gives the lease back and the other one takes over."""
    monkeypatch.setattr(reconciler_module, "LEASE_RENEW_S", 0.1)

    async def nothing_registered(_names: Sequence[str]) -> set[str]:
        return set()

    settings = ReconcileSettings(interval_s=1, banned_interval_s=0.2)
    bans = MemoryBanStore()
    await bans.ban("room-1", "mallory", 600)  # the banned pass has a room to check
    # LiveKit is down for both: every call fails at once.
    port = closed_port()
    gateways = [TwirpLiveKitGateway(f"http://127.0.0.1:{port}", "key", "secret" * 6, 1.0)]
    gateways.append(TwirpLiveKitGateway(f"http://127.0.0.1:{port}", "key", "secret" * 6, 1.0))
    reconcilers = [
        Reconciler(settings, 1.0, g, MemoryPresenceStore(), bans, turns, nothing_registered)
        for g in gateways
    ]
    try:
        for each in reconcilers:
            each.start()

        async def one_swept() -> bool:
            return any(g.calls_made for g in gateways)

        await _until(one_swept, "a reconciler called LiveKit")
        leader = next(i for i, g in enumerate(gateways) if g.calls_made)
        other = 1 - leader
        await asyncio.sleep(2.5)  # two more sweeps, a dozen banned passes
        assert reconcilers[leader].leading is True
        assert reconcilers[other].leading is False
        assert gateways[other].calls_made == 0  # never called LiveKit
        await reconcilers[leader].stop()

        async def taken_over() -> bool:
            return reconcilers[other].leading and gateways[other].calls_made > 0

        await _until(taken_over, "the other reconciler took the lease and swept")
    finally:
        for each in reconcilers:
            await each.stop()
        for gateway in gateways:
            await gateway.close()


async def test_with_redis_down_no_process_leads_and_the_stop_is_clean(
    gateway_down: TwirpLiveKitGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconciler_module, "LEASE_RENEW_S", 0.05)
    down = Redis.from_url(f"redis://127.0.0.1:{closed_port()}/0", socket_connect_timeout=0.5)

    async def nothing_registered(_names: Sequence[str]) -> set[str]:
        return set()

    reconciler = Reconciler(
        ReconcileSettings(interval_s=1, banned_interval_s=0.2),
        1.0,
        gateway_down,
        RedisPresenceStore(down),
        RedisBanStore(down),
        RedisTurns(down),
        nothing_registered,
    )
    try:
        reconciler.start()
        await asyncio.sleep(1.5)  # a sweep's time, several lease tries
        assert reconciler.leading is False
        assert gateway_down.calls_made == 0  # no pass ran: nothing asked LiveKit
        await asyncio.wait_for(reconciler.stop(), 30)
    finally:
        await down.aclose()


def test_each_livekit_deployment_has_a_lease_of_its_own() -> None:
    """Processes sharing a Redis but pointed at different LiveKit servers (or keys) must
    not hold each other's passes back: the one holding a lease reconciles against its
    own LiveKit only."""
    one = lease_key("http://livekit-a:7880", "APIkey")
    assert one == lease_key("http://livekit-a:7880", "APIkey")
    assert one.startswith(LEASE_KEY + ":")
    assert one != lease_key("http://livekit-b:7880", "APIkey")
    assert one != lease_key("http://livekit-a:7880", "APIother")
