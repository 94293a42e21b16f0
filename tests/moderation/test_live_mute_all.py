"""Mute all and muted on join, against the real LiveKit server with RTC SDK participants."""

from __future__ import annotations

from antechamber.livekit.models import TrackSource
from antechamber.livekit.twirp import TwirpLiveKitGateway
from tests.helpers import create_room
from tests.livekit.conftest import Live
from tests.livekit.participants import connected, eventually, publish_microphone
from tests.moderation.live import ROOMS, act, token

MICROPHONE = TrackSource.MICROPHONE


async def _microphones(gateway: TwirpLiveKitGateway, room_id: str) -> dict[str, bool]:
    """identity -> whether its microphone is muted, as the server reports it."""
    return {
        p.identity: t.muted
        for p in await gateway.list_participants(room_id)
        for t in p.tracks
        if t.source == MICROPHONE
    }


async def test_it_mutes_everyone_but_the_admins_in_one_call(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as bob, live.browser() as carol:
        await alice.login("alice@example.com")
        await bob.login("bob@example.com")
        room = await create_room(alice, "Quiet please", access_level="public")
        room_id = room["id"]
        carol_token = (
            await carol.post(f"{ROOMS}{room_id}/request-entry/", json={"username": "Carol"})
        ).json()["livekit"]["token"]
        async with (
            connected(live.livekit.url, room["livekit"]["token"]) as alice_rtc,
            connected(live.livekit.url, await token(bob, room_id)) as bob_rtc,
            connected(live.livekit.url, carol_token) as carol_rtc,
        ):
            everyone = [alice_rtc, bob_rtc, carol_rtc]
            for participant in everyone:
                await publish_microphone(participant)
            alice_id, bob_id, carol_id = (p.local_participant.identity for p in everyone)

            async def all_live() -> bool:
                return await _microphones(gateway, room_id) == {
                    alice_id: False,
                    bob_id: False,
                    carol_id: False,
                }

            await eventually(all_live, "three unmuted microphones on the server")
            muted = await act(alice, room_id, "mute-all")
            assert muted.status_code == 200, muted.text
            assert muted.json() == {"status": "success", "participants": 2, "muted_tracks": 2}
            assert await _microphones(gateway, room_id) == {
                alice_id: False,
                bob_id: True,
                carol_id: True,
            }
            # They may unmute themselves: the microphone is still theirs to publish.
            info = await gateway.get_participant(room_id, bob_id)
            assert MICROPHONE in info.permission.can_publish_sources
            again = await act(alice, room_id, "mute-all")
            assert again.json()["muted_tracks"] == 0

            refused = await act(bob, room_id, "mute-all")
            assert refused.status_code == 403
            trail = (await alice.get(f"{ROOMS}{room_id}/audit/")).json()["results"]
            assert [(r["action"], r["outcome"]) for r in trail[:3]] == [
                ("mute_all", "permission_denied"),
                ("mute_all", "ok"),
                ("mute_all", "ok"),
            ]


async def test_it_can_take_the_microphone_away_and_give_it_back(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as bob:
        await alice.login("alice@example.com")
        await bob.login("bob@example.com")
        room = await create_room(alice, "No unmuting", access_level="public")
        room_id = room["id"]
        async with (
            connected(live.livekit.url, room["livekit"]["token"]) as alice_rtc,
            connected(live.livekit.url, await token(bob, room_id)) as bob_rtc,
        ):
            bob_id = bob_rtc.local_participant.identity
            alice_id = alice_rtc.local_participant.identity
            await publish_microphone(bob_rtc)

            async def published() -> bool:
                return await _microphones(gateway, room_id) == {bob_id: False}

            await eventually(published, "bob's microphone on the server")
            muted = await act(alice, room_id, "mute-all", allow_unmute=False)
            assert muted.status_code == 200, muted.text
            info = await gateway.get_participant(room_id, bob_id)
            assert MICROPHONE not in info.permission.can_publish_sources
            assert TrackSource.CAMERA in info.permission.can_publish_sources
            admin = await gateway.get_participant(room_id, alice_id)
            assert MICROPHONE in admin.permission.can_publish_sources

            async def told() -> bool:
                sources = bob_rtc.local_participant.permissions.can_publish_sources
                return int(MICROPHONE) not in [int(s) for s in sources]

            await eventually(told, "bob's client learned it can't publish a microphone")

            # Someone who joins now loses the microphone too.
            async with live.browser() as carol:
                carol_token = (
                    await carol.post(f"{ROOMS}{room_id}/request-entry/", json={"username": "C"})
                ).json()["livekit"]["token"]
            async with connected(live.livekit.url, carol_token) as carol_rtc:
                carol_id = carol_rtc.local_participant.identity

                async def carol_without_microphone() -> bool:
                    info = await gateway.get_participant(room_id, carol_id)
                    return MICROPHONE not in info.permission.can_publish_sources

                await eventually(carol_without_microphone, "carol joined without a microphone")

            given = await act(alice, room_id, "allow-unmute")
            assert given.status_code == 200, given.text
            assert given.json() == {"status": "success", "participants": 1}
            info = await gateway.get_participant(room_id, bob_id)
            assert MICROPHONE in info.permission.can_publish_sources
            assert (await act(alice, room_id, "allow-unmute")).json()["participants"] == 0


async def test_it_mutes_a_joiners_microphone_when_the_room_says_so(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as bob:
        await alice.login("alice@example.com")
        await bob.login("bob@example.com")
        room = await create_room(
            alice,
            "Join muted",
            access_level="public",
            configuration={"muted_on_join": True},
        )
        room_id = room["id"]
        assert room["configuration"]["muted_on_join"] is True
        async with (
            connected(live.livekit.url, room["livekit"]["token"]) as alice_rtc,
            connected(live.livekit.url, await token(bob, room_id)) as bob_rtc,
        ):
            await publish_microphone(alice_rtc)
            await publish_microphone(bob_rtc)
            alice_id = alice_rtc.local_participant.identity
            bob_id = bob_rtc.local_participant.identity

            async def bob_muted() -> bool:
                return await _microphones(gateway, room_id) == {alice_id: False, bob_id: True}

            await eventually(bob_muted, "the server muted bob's microphone, not alice's")
