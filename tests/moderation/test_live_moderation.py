"""Moderation against the real LiveKit server: what an admin does, the server reports."""

from __future__ import annotations

from antechamber.livekit.models import TrackSource
from antechamber.livekit.twirp import TwirpLiveKitGateway
from tests.helpers import create_room
from tests.livekit.conftest import Live
from tests.livekit.participants import connected, eventually, publish_microphone
from tests.moderation.live import ROOMS, act, token


async def test_it_mutes_a_published_microphone(live: Live, gateway: TwirpLiveKitGateway) -> None:
    async with live.browser() as alice, live.browser() as bob:
        await alice.login("alice@example.com")
        await bob.login("bob@example.com")
        room = await create_room(alice, "Muted", access_level="public")
        async with connected(live.livekit.url, await token(bob, room["id"])) as bob_rtc:
            sid = await publish_microphone(bob_rtc)
            identity = bob_rtc.local_participant.identity

            async def published() -> bool:
                info = await gateway.get_participant(room["id"], identity)
                return [(t.sid, t.muted) for t in info.tracks] == [(sid, False)]

            await eventually(published, "bob's microphone is live and not muted")

            muted = await act(
                alice, room["id"], "mute-participant", participant_identity=identity, track_sid=sid
            )
            assert muted.status_code == 200, muted.text
            after = await gateway.get_participant(room["id"], identity)
            assert [(t.sid, t.muted) for t in after.tracks] == [(sid, True)]


async def test_it_lets_any_participant_mute_when_the_room_allows_it(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as bob, live.browser() as carol:
        await alice.login("alice@example.com")
        await bob.login("bob@example.com")
        room = await create_room(
            alice,
            "Everyone mutes",
            access_level="public",
            configuration={"everyone_can_mute": True},
        )
        entry = await carol.post(f"{ROOMS}{room['id']}/request-entry/", json={"username": "Carol"})
        carol_token = entry.json()["livekit"]["token"]
        async with (
            connected(live.livekit.url, await token(bob, room["id"])) as bob_rtc,
            connected(live.livekit.url, carol_token),
        ):
            sid = await publish_microphone(bob_rtc)
            identity = bob_rtc.local_participant.identity

            async def published() -> bool:
                # The SDK returns before the server lists the track: wait for the server.
                info = await gateway.get_participant(room["id"], identity)
                return [t.sid for t in info.tracks] == [sid]

            await eventually(published, "bob's microphone is known to the server")
            body = {"participant_identity": identity, "track_sid": sid}
            path = f"{ROOMS}{room['id']}/mute-participant/"
            without_token = await carol.post(path, json=body)
            assert without_token.status_code == 401
            muted = await carol.post(
                path, json=body, headers={"Authorization": f"Bearer {carol_token}"}
            )
            assert muted.status_code == 200, muted.text
            info = await gateway.get_participant(room["id"], identity)
            assert [t.muted for t in info.tracks] == [True]
            trail = (await alice.get(f"{ROOMS}{room['id']}/audit/")).json()["results"]
            assert [(r["action"], r["actor_identity"], r["outcome"]) for r in trail][:2] == [
                ("mute", entry.json()["id"], "ok"),
                ("mute", "", "not_authenticated"),
            ]
            assert trail[0]["actor_user_id"] is None


async def test_it_changes_permissions_live_keeping_the_rest(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as bob:
        await alice.login("alice@example.com")
        await bob.login("bob@example.com")
        room = await create_room(alice, "Permissions", access_level="public")
        async with connected(live.livekit.url, await token(bob, room["id"])) as bob_rtc:
            identity = bob_rtc.local_participant.identity
            before = (await gateway.get_participant(room["id"], identity)).permission
            assert len(before.can_publish_sources) == 4
            changed = await act(
                alice,
                room["id"],
                "update-participant",
                participant_identity=identity,
                permission={"can_publish_sources": ["microphone"], "can_publish_data": False},
                name="Bob the builder",
            )
            assert changed.status_code == 200, changed.text
            info = await gateway.get_participant(room["id"], identity)
            assert list(info.permission.can_publish_sources) == [TrackSource.MICROPHONE]
            assert info.permission.can_publish_data is False
            assert info.permission.can_subscribe is True  # untouched, not reset
            assert info.permission.can_publish is True
            assert info.permission.hidden is False
            assert info.name == "Bob the builder"

            async def seen_by_bob() -> bool:
                sources = bob_rtc.local_participant.permissions.can_publish_sources
                return [int(s) for s in sources] == [int(TrackSource.MICROPHONE)]

            await eventually(seen_by_bob, "bob's client learned its new permissions")


async def test_it_removes_and_bans_a_participant(live: Live, gateway: TwirpLiveKitGateway) -> None:
    async with live.browser() as alice, live.browser() as carol:
        await alice.login("alice@example.com")
        room = await create_room(alice, "Banned", access_level="public")
        entry = await carol.post(f"{ROOMS}{room['id']}/request-entry/", json={"username": "Carol"})
        assert entry.status_code == 200, entry.text
        assert entry.json()["status"] == "accepted"
        carol_id = entry.json()["id"]
        async with connected(live.livekit.url, entry.json()["livekit"]["token"]) as carol_rtc:
            assert carol_rtc.local_participant.identity == carol_id
            removed = await act(
                alice,
                room["id"],
                "remove-participant",
                participant_identity=carol_id,
                ban_seconds=600,
            )
            assert removed.status_code == 200, removed.text

            async def gone() -> bool:
                participants = await gateway.list_participants(room["id"])
                return carol_id not in {p.identity for p in participants}

            await eventually(gone, "carol left the room")

            async def disconnected() -> bool:
                # The server drops her from its list before her client hears of it.
                return not carol_rtc.isconnected()

            await eventually(disconnected, "carol's client disconnected")

        again = await carol.post(f"{ROOMS}{room['id']}/request-entry/", json={"username": "C"})
        assert again.status_code == 403
        assert again.json() == {"detail": "You were removed from this room."}
        get = await carol.get(f"{ROOMS}{room['id']}/")
        assert get.status_code == 403
        # The ban is on carol's identity only: a new cookie is a new participant.
        carol.cookies.delete("lobbyParticipantId")
        fresh = await carol.get(f"{ROOMS}{room['id']}/")
        assert fresh.status_code == 200
        assert fresh.json()["livekit"] is not None


async def test_it_removes_without_a_ban_and_lets_them_back(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as bob:
        await alice.login("alice@example.com")
        await bob.login("bob@example.com")
        room = await create_room(alice, "Removed", access_level="public")
        async with connected(live.livekit.url, await token(bob, room["id"])) as bob_rtc:
            identity = bob_rtc.local_participant.identity
            removed = await act(
                alice, room["id"], "remove-participant", participant_identity=identity
            )
            assert removed.status_code == 200, removed.text
            missing = await act(
                alice, room["id"], "remove-participant", participant_identity=identity
            )
            assert missing.status_code == 404
        assert await token(bob, room["id"])


async def test_it_bans_a_logged_in_participant_from_new_tokens(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as bob:
        await alice.login("alice@example.com")
        await bob.login("bob@example.com")
        room = await create_room(alice, "Banned user", access_level="trusted")
        async with connected(live.livekit.url, await token(bob, room["id"])) as bob_rtc:
            identity = bob_rtc.local_participant.identity
            removed = await act(
                alice,
                room["id"],
                "remove-participant",
                participant_identity=identity,
                ban_seconds=3600,
            )
            assert removed.status_code == 200, removed.text
        refused = await bob.get(f"{ROOMS}{room['id']}/")
        assert refused.status_code == 403
        assert refused.json() == {"detail": "You were removed from this room."}
        entry = await bob.post(f"{ROOMS}{room['id']}/request-entry/", json={"username": "B"})
        assert entry.status_code == 403
        # Alice is not banned, and the ban holds in this room only.
        assert await token(alice, room["id"])
        elsewhere = await create_room(alice, "Elsewhere", access_level="public")
        assert await token(bob, elsewhere["id"])


async def test_it_changes_a_role_and_its_live_attribute(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as bob:
        await alice.login("alice@example.com")
        await bob.login("bob@example.com")
        room = await create_room(alice, "Promoted", access_level="public")
        async with connected(live.livekit.url, await token(bob, room["id"])) as bob_rtc:
            identity = bob_rtc.local_participant.identity
            promoted = await act(
                alice,
                room["id"],
                "update-participant-role",
                participant_identity=identity,
                role="administrator",
            )
            assert promoted.status_code == 200, promoted.text
            info = await gateway.get_participant(room["id"], identity)
            assert info.attributes["room_role"] == "administrator"
            as_bob = await bob.get(f"{ROOMS}{room['id']}/")
            assert as_bob.json()["is_administrable"] is True


async def test_it_raises_a_hand_and_renames_with_the_livekit_token(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as bob:
        await alice.login("alice@example.com")
        await bob.login("bob@example.com")
        room = await create_room(alice, "Hands", access_level="public")
        other = await create_room(alice, "Elsewhere", access_level="public")
        bob_token = await token(bob, room["id"])
        bearer = {"Authorization": f"Bearer {bob_token}"}
        async with connected(live.livekit.url, bob_token) as bob_rtc:
            identity = bob_rtc.local_participant.identity
            path = f"{ROOMS}{room['id']}/"
            raised = await bob.post(path + "toggle-hand/", json={"raised": True}, headers=bearer)
            assert raised.status_code == 200, raised.text
            info = await gateway.get_participant(room["id"], identity)
            assert info.attributes["handRaisedAt"].startswith("20")
            lowered = await bob.post(path + "toggle-hand/", json={"raised": False}, headers=bearer)
            assert lowered.status_code == 200
            info = await gateway.get_participant(room["id"], identity)
            assert info.attributes.get("handRaisedAt", "") == ""

            renamed = await bob.post(path + "rename/", json={"name": "  Robert  "}, headers=bearer)
            assert renamed.status_code == 200, renamed.text
            assert (await gateway.get_participant(room["id"], identity)).name == "Robert"

            elsewhere = await bob.post(
                f"{ROOMS}{other['id']}/toggle-hand/", json={"raised": True}, headers=bearer
            )
            assert elsewhere.status_code == 403
            forged = {"Authorization": f"Bearer {bob_token[:-4]}AAAA"}
            refused = await bob.post(path + "toggle-hand/", json={"raised": True}, headers=forged)
            assert refused.status_code == 401
        # Gone from the room: the token alone no longer lets it act there.
        after = await bob.post(path + "rename/", json={"name": "Ghost"}, headers=bearer)
        assert after.status_code == 403


async def test_it_ends_the_meeting_for_everyone(live: Live, gateway: TwirpLiveKitGateway) -> None:
    async with live.browser() as alice, live.browser() as bob:
        await alice.login("alice@example.com")
        await bob.login("bob@example.com")
        room = await create_room(alice, "Ended", access_level="public")
        async with connected(live.livekit.url, await token(bob, room["id"])) as bob_rtc:
            assert [r.name for r in await gateway.list_rooms([room["id"]])] == [room["id"]]
            ended = await act(alice, room["id"], "end-meeting")
            assert ended.status_code == 200, ended.text
            assert await gateway.list_rooms([room["id"]]) == []

            async def disconnected() -> bool:
                return not bob_rtc.isconnected()

            await eventually(disconnected, "bob was disconnected")
        # Not live any more: ending it again is still fine.
        again = await act(alice, room["id"], "end-meeting")
        assert again.status_code == 200


async def test_it_sends_a_participant_back_to_the_lobby(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as carol:
        await alice.login("alice@example.com")
        room = await create_room(alice, "Requeued", access_level="trusted")
        entry_path = f"{ROOMS}{room['id']}/request-entry/"
        waiting = await carol.post(entry_path, json={"username": "Carol"})
        assert waiting.status_code == 200, waiting.text
        carol_id = waiting.json()["id"]
        assert waiting.json()["status"] == "waiting"
        admitted = await act(alice, room["id"], "enter", participant_id=carol_id, allow_entry=True)
        assert admitted.status_code == 200
        accepted = await carol.post(entry_path, json={"username": "Carol"})
        assert accepted.json()["status"] == "accepted"
        async with connected(live.livekit.url, accepted.json()["livekit"]["token"]):
            sent = await act(alice, room["id"], "send-to-lobby", participant_identity=carol_id)
            assert sent.status_code == 200, sent.text
            assert sent.json()["participant_id"] == carol_id

            async def gone() -> bool:
                participants = await gateway.list_participants(room["id"])
                return carol_id not in {p.identity for p in participants}

            await eventually(gone, "carol left the room")
        back = await carol.post(entry_path, json={"username": "Carol"})
        assert back.json()["status"] == "waiting"
        assert back.json()["livekit"] is None
        listed = await alice.get(f"{ROOMS}{room['id']}/waiting-participants/")
        assert [p["id"] for p in listed.json()["participants"]] == [carol_id]


async def test_it_answers_404_for_someone_not_in_the_room(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice:
        await alice.login("alice@example.com")
        room = await create_room(alice, "Nobody", access_level="trusted")
        async with connected(live.livekit.url, room["livekit"]["token"]) as alice_rtc:
            sid = await publish_microphone(alice_rtc)
            for action, body in (
                ("mute-participant", {"participant_identity": "ghost", "track_sid": sid}),
                ("update-participant", {"participant_identity": "ghost", "name": "G"}),
                (
                    "update-participant",
                    {"participant_identity": "ghost", "permission": {"can_publish": False}},
                ),
                ("remove-participant", {"participant_identity": "ghost"}),
                ("send-to-lobby", {"participant_identity": "ghost"}),
            ):
                response = await act(alice, room["id"], action, **body)
                assert response.status_code == 404, (action, response.text)
            unknown_track = await act(
                alice,
                room["id"],
                "mute-participant",
                participant_identity=alice_rtc.local_participant.identity,
                track_sid="TR_nosuchtrack",
            )
            assert unknown_track.status_code == 404, unknown_track.text
