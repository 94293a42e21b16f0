"""A participant cap per room, refused on every path into the room, and enforced by the
real LiveKit server for tokens handed out before the room filled."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from antechamber.livekit.twirp import TwirpLiveKitGateway
from livekit import rtc
from tests.helpers import create_room
from tests.http_server import HttpBrowser
from tests.livekit.conftest import Live
from tests.livekit.participants import connected, eventually
from tests.moderation.live import ROOMS, act, token

FULL = {"detail": "This room is full: it admits at most 2 participants at once."}


async def _listed(live: Live, admin: HttpBrowser, room_id: str, count: int) -> None:
    async def listed() -> bool:
        answer = await admin.get(f"{ROOMS}{room_id}/participants/")
        return bool(answer.json()["count"] == count)

    try:
        await eventually(listed, f"{count} participants listed")
    except AssertionError as exc:
        # What each side saw, so that a failure on a loaded machine can be explained.
        answer = await admin.get(f"{ROOMS}{room_id}/participants/")
        sent = [
            (event["event"], event.get("participant", {}).get("identity"))
            for event in (json.loads(d.body) for d in live.gate.seen)
            if event.get("room", {}).get("name") == room_id
        ]
        raise AssertionError(f"{exc}; listed: {answer.text}; webhooks sent: {sent}") from exc


async def _entry(browser: HttpBrowser, room_id: str) -> Any:
    return await browser.post(f"{ROOMS}{room_id}/request-entry/", json={"username": "Guest"})


async def _decide(admin: HttpBrowser, room_id: str, place: str, *, allow: bool) -> Any:
    return await act(admin, room_id, "enter", participant_id=place, allow_entry=allow)


async def test_a_full_public_room_refuses_tokens_and_livekit_refuses_old_ones(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with (
        live.browser() as alice,
        live.browser() as bob,
        live.browser() as carol,
        live.browser() as dave,
    ):
        await alice.login("alice@example.com")
        await bob.login("bob@example.com")
        room = await create_room(
            alice, "Two at most", access_level="public", configuration={"max_participants": 2}
        )
        room_id = room["id"]
        assert room["configuration"]["max_participants"] == 2
        # Carol takes a token while there is room, and keeps it for later.
        early_token = await token(carol, room_id)
        async with (
            connected(live.livekit.url, room["livekit"]["token"]),
            connected(live.livekit.url, await token(bob, room_id)),
        ):
            [live_room] = await gateway.list_rooms([room_id])
            assert live_room.max_participants == 2
            await _listed(live, alice, room_id, 2)
            refused = await carol.get(f"{ROOMS}{room_id}/")
            assert (refused.status_code, refused.json()) == (409, FULL)
            entry = await _entry(dave, room_id)
            assert (entry.status_code, entry.json()) == (409, FULL)
            # Someone already in the room (a reconnection) still gets a token.
            assert await token(bob, room_id)
            # The token carol got earlier: LiveKit refuses it itself.
            late = rtc.Room()
            with pytest.raises(rtc.ConnectError):
                await asyncio.wait_for(late.connect(live.livekit.url, early_token), 10)
            await late.disconnect()
        await _listed(live, alice, room_id, 0)
        assert (await carol.get(f"{ROOMS}{room_id}/")).status_code == 200


async def test_a_full_room_admits_from_its_lobby_only_up_to_the_cap(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with (
        live.browser() as alice,
        live.browser() as carol,
        live.browser() as dave,
        live.browser() as erin,
    ):
        await alice.login("alice@example.com")
        room = await create_room(
            alice, "Two at most", access_level="trusted", configuration={"max_participants": 2}
        )
        room_id = room["id"]
        places = {}
        for name, guest in (("carol", carol), ("dave", dave), ("erin", erin)):
            waiting = await _entry(guest, room_id)
            assert waiting.json()["status"] == "waiting", waiting.text
            places[name] = waiting.json()["id"]
        async with connected(live.livekit.url, room["livekit"]["token"]):
            await _listed(live, alice, room_id, 1)
            admitted = await act(alice, room_id, "enter-all", allow_entry=True)
            assert admitted.json() == {"count": 1}
            assert (await _entry(carol, room_id)).json()["status"] == "accepted"
            assert (await _entry(dave, room_id)).json()["status"] == "waiting"
            carol_token = (await _entry(carol, room_id)).json()["livekit"]["token"]
            async with connected(live.livekit.url, carol_token):
                await _listed(live, alice, room_id, 2)
                one = await act(
                    alice, room_id, "enter", participant_id=places["dave"], allow_entry=True
                )
                assert (one.status_code, one.json()) == (409, FULL)
                none = await act(alice, room_id, "enter-all", allow_entry=True)
                assert none.json() == {"count": 0}
                # Denying is never capped.
                denied = await act(
                    alice, room_id, "enter", participant_id=places["erin"], allow_entry=False
                )
                assert denied.status_code == 200
                # Carol, already in, still polls her admission.
                assert (await _entry(carol, room_id)).status_code == 200
            await _listed(live, alice, room_id, 1)
            admitted = await act(
                alice, room_id, "enter", participant_id=places["dave"], allow_entry=True
            )
            assert admitted.status_code == 200, admitted.text


async def test_a_new_cap_applies_at_once_here_and_from_the_next_session_in_livekit(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as bob:
        await alice.login("alice@example.com")
        await bob.login("bob@example.com")
        room = await create_room(alice, "Shrinking", access_level="public")
        room_id = room["id"]
        async with connected(live.livekit.url, room["livekit"]["token"]):
            [live_room] = await gateway.list_rooms([room_id])
            assert live_room.max_participants == 0
            await _listed(live, alice, room_id, 1)
            changed = await alice.patch(
                f"{ROOMS}{room_id}/", json={"configuration": {"max_participants": 1}}
            )
            assert changed.status_code == 200, changed.text
            refused = await bob.get(f"{ROOMS}{room_id}/")
            assert refused.status_code == 409
            assert refused.json()["detail"].endswith("at most 1 participants at once.")
            bad = await alice.patch(
                f"{ROOMS}{room_id}/", json={"configuration": {"max_participants": 0}}
            )
            assert bad.status_code == 400, bad.text

        async def closed() -> bool:
            return await gateway.list_rooms([room_id]) == []

        await eventually(closed, "the room's session ended")
        async with connected(live.livekit.url, await token(bob, room_id)):
            [next_session] = await gateway.list_rooms([room_id])
            assert next_session.max_participants == 1
