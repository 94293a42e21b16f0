"""Every gateway call against the real LiveKit server."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from antechamber.errors import Conflict, NotFound
from antechamber.livekit.models import ParticipantPermission, ParticipantState
from antechamber.livekit.twirp import TwirpLiveKitGateway
from livekit import rtc
from tests.livekit.conftest import Live
from tests.livekit.participants import connected, eventually, publish_microphone, sdk_token

PUBLISHER = {"can_publish": True, "can_subscribe": True, "can_publish_data": True}


def _room() -> str:
    return f"gw-{uuid.uuid4()}"


async def test_it_lists_and_gets_participants(live: Live, gateway: TwirpLiveKitGateway) -> None:
    room = _room()
    async with connected(live.livekit.url, sdk_token("alice", room, **PUBLISHER)):
        participants = await gateway.list_participants(room)
        assert [p.identity for p in participants] == ["alice"]
        alice = await gateway.get_participant(room, "alice")
        assert alice.name == "Alice"
        assert alice.sid == participants[0].sid
        with pytest.raises(NotFound):
            await gateway.get_participant(room, "mallory")
    assert await gateway.list_participants(room) == []


async def test_it_lists_rooms_and_says_not_found_for_rooms_that_are_not_live(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    room = _room()
    async with connected(live.livekit.url, sdk_token("alice", room, **PUBLISHER)):
        assert [r.name for r in await gateway.list_rooms([room])] == [room]
        assert room in [r.name for r in await gateway.list_rooms()]
    with pytest.raises(NotFound):
        await gateway.update_room_metadata(_room(), "{}")
    with pytest.raises(NotFound):
        await gateway.remove_participant(_room(), "alice")


async def test_it_sends_reliable_data_to_everyone_or_to_chosen_identities(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    room = _room()
    received: dict[str, list[bytes]] = {"alice": [], "bob": []}
    async with (
        connected(live.livekit.url, sdk_token("alice", room, **PUBLISHER)) as alice,
        connected(live.livekit.url, sdk_token("bob", room, **PUBLISHER)) as bob,
    ):
        for who, client in (("alice", alice), ("bob", bob)):

            def on_data(packet: rtc.DataPacket, who: str = who) -> None:
                received[who].append(packet.data)

            client.on("data_received", on_data)

        async def both_active() -> bool:
            # Data sent before a participant's transport is up is not delivered to it.
            states = [p.state for p in await gateway.list_participants(room)]
            return states == [ParticipantState.ACTIVE] * 2

        await eventually(both_active, "both participants are active")
        await gateway.send_data(room, b'{"type": "participantWaiting"}')
        await gateway.send_data(room, b"for bob", destination_identities=["bob"])

        async def delivered() -> bool:
            return len(received["bob"]) == 2 and len(received["alice"]) == 1

        await eventually(delivered, "data reached the participants")
    assert received["alice"] == [b'{"type": "participantWaiting"}']
    assert received["bob"] == [b'{"type": "participantWaiting"}', b"for bob"]


async def test_it_mutes_a_published_track(live: Live, gateway: TwirpLiveKitGateway) -> None:
    room = _room()
    async with connected(live.livekit.url, sdk_token("alice", room, **PUBLISHER)) as alice:
        track_sid = await publish_microphone(alice)

        async def published() -> bool:
            tracks = (await gateway.get_participant(room, "alice")).tracks
            return [t.sid for t in tracks] == [track_sid]

        await eventually(published, "the microphone track is published")
        track = await gateway.mute_track(room, "alice", track_sid, True)
        assert track.sid == track_sid
        assert track.muted is True
        [info] = (await gateway.get_participant(room, "alice")).tracks
        assert info.muted is True
        publication = alice.local_participant.track_publications[track_sid]

        async def seen_by_alice() -> bool:
            return publication.muted

        await eventually(seen_by_alice, "the participant learnt it was muted")
        # LiveKit only lets participants unmute themselves (remote unmute is off).
        with pytest.raises(Conflict):
            await gateway.mute_track(room, "alice", track_sid, False)


async def test_it_updates_a_participants_permission_name_attributes_and_metadata(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    room = _room()
    async with connected(live.livekit.url, sdk_token("alice", room, **PUBLISHER)) as alice:
        updated = await gateway.update_participant(
            room,
            "alice",
            permission=ParticipantPermission(
                can_subscribe=True, can_publish=False, can_publish_data=True
            ),
            name="Alice Liddell",
            attributes={"handRaisedAt": "2026-01-01T00:00:00Z"},
            metadata="note",
        )
        assert updated.permission.can_publish is False
        assert updated.name == "Alice Liddell"
        assert dict(updated.attributes)["handRaisedAt"] == "2026-01-01T00:00:00Z"
        assert updated.metadata == "note"

        async def seen_by_alice() -> bool:
            me = alice.local_participant
            return me.name == "Alice Liddell" and me.attributes.get("handRaisedAt") is not None

        await eventually(seen_by_alice, "the change reached the participant")
        # Only what is given changes.
        renamed = await gateway.update_participant(room, "alice", name="Alice")
        assert renamed.metadata == "note"
        assert renamed.permission.can_publish is False


async def test_it_removes_a_participant(live: Live, gateway: TwirpLiveKitGateway) -> None:
    room = _room()
    async with connected(live.livekit.url, sdk_token("alice", room, **PUBLISHER)) as alice:
        disconnected = asyncio.Event()
        alice.on("disconnected", lambda *_: disconnected.set())
        await gateway.remove_participant(room, "alice")
        await asyncio.wait_for(disconnected.wait(), 10)
        assert await gateway.list_participants(room) == []


async def test_it_updates_room_metadata_and_deletes_the_room(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    room = _room()
    async with connected(live.livekit.url, sdk_token("alice", room, **PUBLISHER)) as alice:
        await gateway.update_room_metadata(room, '{"access_level": "trusted"}')
        [info] = await gateway.list_rooms([room])
        assert info.metadata == '{"access_level": "trusted"}'

        async def seen_by_alice() -> bool:
            return alice.metadata == '{"access_level": "trusted"}'

        await eventually(seen_by_alice, "the metadata reached the participant")
        disconnected = asyncio.Event()
        alice.on("disconnected", lambda *_: disconnected.set())
        await gateway.delete_room(room)
        await asyncio.wait_for(disconnected.wait(), 10)
        assert await gateway.list_rooms([room]) == []
