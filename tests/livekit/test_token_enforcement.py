"""The real LiveKit server enforces what Antechamber's tokens say."""

from __future__ import annotations

import pytest

from antechamber.livekit.models import TrackSource
from antechamber.livekit.twirp import TwirpLiveKitGateway
from livekit import api
from tests.http_server import HttpBrowser
from tests.livekit.conftest import Live
from tests.livekit.participants import (
    connected,
    eventually,
    publish_microphone,
    publish_screen_share,
)

# The server ignores a refused publication instead of answering it; the SDK then waits.
# A participant allowed to share gets its answer in well under a second.
REFUSAL_WAIT_S = 4.0


async def _room_with_tokens(live: Live, sources: list[str]) -> tuple[str, str, str]:
    """A public room whose configuration allows `sources`: (room id, owner's token, bob's)."""
    async with live.browser() as alice, live.browser() as bob:
        await alice.login("alice@example.com")
        await bob.login("bob@example.com")
        created = await alice.post(
            "/api/v1.0/rooms/",
            json={
                "name": "Enforced",
                "access_level": "public",
                "configuration": {"can_publish_sources": sources},
            },
        )
        assert created.status_code == 201, created.text
        room = created.json()
        return room["id"], room["livekit"]["token"], await _token(bob, room["id"])


async def _token(browser: HttpBrowser, room_id: str) -> str:
    response = await browser.get(f"/api/v1.0/rooms/{room_id}/")
    assert response.status_code == 200, response.text
    token: str = response.json()["livekit"]["token"]
    return token


async def test_it_keeps_a_participant_from_sharing_a_screen_the_room_does_not_allow(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    room_id, owner_token, bob_token = await _room_with_tokens(live, ["camera", "microphone"])
    async with (
        connected(live.livekit.url, bob_token) as bob,
        connected(live.livekit.url, owner_token) as alice,
    ):
        await publish_microphone(bob)  # what the room allows, bob may publish
        with pytest.raises(TimeoutError):
            await publish_screen_share(bob, REFUSAL_WAIT_S)
        owner_screen = await publish_screen_share(alice, REFUSAL_WAIT_S)

        async def published() -> bool:
            participants = await gateway.list_participants(room_id)
            tracks = {t.sid for p in participants for t in p.tracks}
            return owner_screen in tracks and len(tracks) == 2

        await eventually(published, "the owner's screen share and bob's microphone are live")
        bob_info = await gateway.get_participant(room_id, bob.local_participant.identity)
        assert [t.source for t in bob_info.tracks] == [TrackSource.MICROPHONE]


async def test_it_lets_only_a_room_admin_call_the_server_api(live: Live) -> None:
    room_id, owner_token, bob_token = await _room_with_tokens(live, ["camera", "microphone"])
    async with connected(live.livekit.url, owner_token):
        as_owner = api.LiveKitAPI.with_token(owner_token, live.livekit.http_url)
        as_bob = api.LiveKitAPI.with_token(bob_token, live.livekit.http_url)
        try:
            listed = await as_owner.room.list_participants(
                api.ListParticipantsRequest(room=room_id)
            )
            assert len(listed.participants) == 1
            with pytest.raises(api.TwirpError) as refused:
                await as_bob.room.list_participants(api.ListParticipantsRequest(room=room_id))
            assert refused.value.status in (401, 403)
            with pytest.raises(api.TwirpError):
                await as_bob.room.update_room_metadata(
                    api.UpdateRoomMetadataRequest(room=room_id, metadata="hijacked")
                )
        finally:
            await as_owner.aclose()
            await as_bob.aclose()
