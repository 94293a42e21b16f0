"""Room-cache invalidation across processes on the cluster: a room changed through one
app is dropped from another app's cache by the message on `rooms:changed`, whichever
node each app's subscription sits on."""

from __future__ import annotations

import asyncio

from antechamber.app import create_app
from tests.conftest import Browser, Stack, make_settings, running
from tests.helpers import ROOMS, create_room


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
