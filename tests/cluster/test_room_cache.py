"""Room-cache invalidation across processes on the cluster: a room changed through one
app (or its accesses) is dropped from another app's cache by the message on
`rooms:changed`, whichever node each app's subscription sits on."""

from __future__ import annotations

import asyncio
import uuid

from antechamber.app import create_app
from antechamber.rooms.cache import ROOMS_CHANNEL, RoomCache
from tests.conftest import Browser, Stack, make_settings, running
from tests.helpers import ACCESSES, ROOMS, create_room, grant, me


async def test_it_drops_a_changed_room_from_another_process_cache(
    stack: Stack, alice: Browser
) -> None:
    other = create_app(make_settings(stack.backend))
    async with running(other), Browser(other) as guest:
        # Only the message can refresh it: the other process would keep its copy an hour.
        other.state.services.room_cache._ttl_s = 3600
        room = await create_room(alice, "Cached", access_level="public")
        entry = f"{ROOMS}{room['slug']}/request-entry/"
        first = await guest.post(entry, json={"username": "Guest"})
        assert first.json()["status"] == "accepted"
        changed = await alice.patch(f"{ROOMS}{room['id']}/", json={"access_level": "restricted"})
        assert changed.status_code == 200, changed.text
        status = "accepted"
        for _ in range(100):
            status = (await guest.post(entry, json={"username": "Guest"})).json()["status"]
            if status == "waiting":
                break
            await asyncio.sleep(0.05)
        assert status == "waiting"


async def test_it_drops_a_demoted_administrator_from_another_process_cache(
    stack: Stack, alice: Browser, bob: Browser
) -> None:
    """A PUBLISH reaches the other nodes over the cluster bus, a moment after it returned:
    on a cluster the other process refuses him within that moment, not at once."""
    other = create_app(make_settings(stack.backend))
    async with running(other), Browser(other) as bob_there:
        services = other.state.services
        # On a clock that stands still: only the message can drop what it caches.
        cache = RoomCache(clock=lambda: 1000.0)
        services.room_cache = cache
        services.broker.listen(ROOMS_CHANNEL, cache.invalidate)
        bob_there.cookies.update(bob.cookies)
        room = await create_room(alice, "Trusted", access_level="trusted")
        access = await grant(alice, room["id"], (await me(bob))["id"], "administrator")
        url = f"{ROOMS}{room['slug']}/waiting-participants/"
        assert (await bob_there.get(url)).status_code == 200
        assert cache.admin_role(uuid.UUID(room["id"]), uuid.UUID((await me(bob))["id"]))

        demoted = await alice.patch(f"{ACCESSES}{access['id']}/", json={"role": "member"})
        assert demoted.status_code == 200, demoted.text
        status = 200
        for _ in range(100):
            status = (await bob_there.get(url)).status_code
            if status == 403:
                break
            await asyncio.sleep(0.05)
        assert status == 403
