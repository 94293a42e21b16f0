"""A kick that keeps people out, against the real LiveKit server: a banned participant
who reconnects with the token it already held is removed at once, by the
`participant_joined` webhook or, when webhooks don't arrive, by the reconciliation."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from antechamber.livekit.twirp import TwirpLiveKitGateway
from livekit import rtc
from tests.helpers import create_room
from tests.http_server import HttpBrowser
from tests.livekit.conftest import Live
from tests.livekit.participants import CONNECT_TIMEOUT_S, eventually
from tests.moderation.live import ROOMS, act


@asynccontextmanager
async def dropping_webhooks(live: Live) -> AsyncIterator[None]:
    live.gate.dropping = True
    try:
        yield
    finally:
        live.gate.dropping = False


async def _admitted(live: Live, alice: HttpBrowser, carol: HttpBrowser, room_id: str) -> Any:
    """Carol knocks on a trusted room and alice lets her in: her lobby answer."""
    path = f"{ROOMS}{room_id}/request-entry/"
    waiting = await carol.post(path, json={"username": "Carol"})
    assert waiting.status_code == 200, waiting.text
    assert waiting.json()["status"] == "waiting"
    place = waiting.json()["id"]
    admitted = await act(alice, room_id, "enter", participant_id=place, allow_entry=True)
    assert admitted.status_code == 200, admitted.text
    accepted = await carol.post(path, json={"username": "Carol"})
    assert accepted.json()["status"] == "accepted"
    return accepted.json()


async def _reconnect_and_get_removed(live: Live, room_id: str, identity: str, token: str) -> bool:
    """Connects with the old token (LiveKit lets it in) and waits until LiveKit's own log
    shows the service removing that new session.

    The removal may come before the SDK has finished connecting (the reconciler can act
    before the media connection is up): the SDK's attempt then fails and it tries again
    seconds later, perhaps after the ban, so the test stops it once removed. Returns
    whether the session had become active (LiveKit then sent `participant_joined`)."""
    since = live.livekit.log_size()
    room = rtc.Room()
    connecting = asyncio.ensure_future(room.connect(live.livekit.url, token))
    try:

        async def removed() -> bool:
            return live.livekit.removed_by_request(identity, since)

        await eventually(removed, "the service removed the banned participant from LiveKit")
    finally:
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError, rtc.ConnectError):
            await connecting
        await room.disconnect()
    return live.livekit.became_active(identity, since)


async def test_it_removes_a_banned_participant_who_reconnects_with_its_old_token(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as carol:
        await alice.login("alice@example.com")
        room = await create_room(alice, "Kicked", access_level="trusted")
        entry = await _admitted(live, alice, carol, room["id"])
        carol_id, old_token = entry["id"], entry["livekit"]["token"]
        first = rtc.Room()
        await asyncio.wait_for(first.connect(live.livekit.url, old_token), CONNECT_TIMEOUT_S)
        try:
            # Long enough for the reconnection below on a loaded machine, short enough
            # to see it end.
            removed = await act(
                alice,
                room["id"],
                "remove-participant",
                participant_identity=carol_id,
                ban_seconds=20,
            )
            assert removed.status_code == 200, removed.text
        finally:
            await first.disconnect()

        await _reconnect_and_get_removed(live, room["id"], carol_id, old_token)
        refused = await carol.post(f"{ROOMS}{room['id']}/request-entry/", json={"username": "C"})
        assert refused.status_code == 403
        # Never listed as present, though it got in for a moment.
        listed = await alice.get(f"{ROOMS}{room['id']}/participants/")
        assert carol_id not in {p["identity"] for p in listed.json()["participants"]}

        # Once the ban ends, carol can knock again (and waits for a decision).
        async def knocks_again() -> bool:
            again = await carol.post(f"{ROOMS}{room['id']}/request-entry/", json={"username": "C"})
            return again.status_code == 200 and again.json()["status"] == "waiting"

        await eventually(knocks_again, "carol may knock again after her ban")


async def test_it_removes_a_banned_participant_without_any_webhook(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as bob:
        await alice.login("alice@example.com")
        await bob.login("bob@example.com")
        room = await create_room(alice, "Kicked quietly", access_level="public")
        got = await bob.get(f"{ROOMS}{room['id']}/")
        old_token = got.json()["livekit"]["token"]
        async with dropping_webhooks(live):
            first = rtc.Room()
            await asyncio.wait_for(first.connect(live.livekit.url, old_token), CONNECT_TIMEOUT_S)
            identity = first.local_participant.identity
            try:
                removed = await act(
                    alice,
                    room["id"],
                    "remove-participant",
                    participant_identity=identity,
                    ban_seconds=600,
                )
                assert removed.status_code == 200, removed.text
            finally:
                await first.disconnect()
            seen = len(live.gate.seen)
            if await _reconnect_and_get_removed(live, room["id"], identity, old_token):
                # LiveKit did send participant_joined, and it was lost on the way.
                assert len(live.gate.seen) > seen
        refused = await bob.get(f"{ROOMS}{room['id']}/")
        assert refused.status_code == 403
