"""A kick that keeps people out, against the real LiveKit server: a banned participant
who reconnects with the token it already held is removed at once, by the
`participant_joined` webhook or, when webhooks don't arrive, by the reconciliation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from antechamber.livekit.sdk_gateway import SdkLiveKitGateway
from livekit import rtc
from tests.http_server import HttpBrowser
from tests.livekit.conftest import Live
from tests.livekit.participants import CONNECT_TIMEOUT_S, eventually
from tests.moderation.live import ROOMS, act, new_room


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


async def _listed(gateway: SdkLiveKitGateway, room_id: str) -> set[str]:
    return {p.identity for p in await gateway.list_participants(room_id)}


async def _reconnect_and_get_removed(
    live: Live, gateway: SdkLiveKitGateway, room_id: str, identity: str, token: str
) -> bool:
    """Connects with the old token (LiveKit lets it in), then waits to be put out.

    The removal may come before the SDK has finished connecting (the reconciler can act
    before the media connection is up): LiveKit then closes the session, the SDK's
    attempts fail, and only LiveKit's own log tells that it was removed. Returns whether
    the participant was connected when it was removed."""
    since = live.livekit.log_size()
    disconnected = asyncio.Event()
    room = rtc.Room()
    room.on("disconnected", lambda *_: disconnected.set())
    try:
        try:
            await asyncio.wait_for(room.connect(live.livekit.url, token), CONNECT_TIMEOUT_S)
        except (rtc.ConnectError, TimeoutError):
            connected = False
        else:
            connected = True
            assert room.local_participant.identity == identity

        async def gone() -> bool:
            return identity not in await _listed(gateway, room_id)

        await eventually(gone, "the banned participant was removed from LiveKit")
        if connected:
            await asyncio.wait_for(disconnected.wait(), CONNECT_TIMEOUT_S)
        assert live.livekit.removed_by_request(identity, since), "not removed by the service"
        return connected
    finally:
        await room.disconnect()


async def test_it_removes_a_banned_participant_who_reconnects_with_its_old_token(
    live: Live, gateway: SdkLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as carol:
        await alice.login("alice@example.com")
        room = await new_room(alice, "Kicked", access_level="trusted")
        entry = await _admitted(live, alice, carol, room["id"])
        carol_id, old_token = entry["id"], entry["livekit"]["token"]
        first = rtc.Room()
        await asyncio.wait_for(first.connect(live.livekit.url, old_token), CONNECT_TIMEOUT_S)
        try:
            # Long enough for the reconnection below, short enough to see it end.
            removed = await act(
                alice,
                room["id"],
                "remove-participant",
                participant_identity=carol_id,
                ban_seconds=8,
            )
            assert removed.status_code == 200, removed.text
        finally:
            await first.disconnect()

        await _reconnect_and_get_removed(live, gateway, room["id"], carol_id, old_token)
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
    live: Live, gateway: SdkLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as bob:
        await alice.login("alice@example.com")
        await bob.login("bob@example.com")
        room = await new_room(alice, "Kicked quietly", access_level="public")
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
            if await _reconnect_and_get_removed(live, gateway, room["id"], identity, old_token):
                # LiveKit did send participant_joined, and it was lost on the way.
                assert len(live.gate.seen) > seen
        refused = await bob.get(f"{ROOMS}{room['id']}/")
        assert refused.status_code == 403
