"""One contract test per API call site of La Suite Meet's front end (v1.27.0,
`src/frontend/src/**/api/*.ts` and `src/frontend/src/api/`): each sends exactly the
method, path, query, headers and body that call site sends, and checks what the front
end reads from the answer. The README lists them with their status."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from antechamber.livekit.models import TrackSource
from antechamber.livekit.twirp import TwirpLiveKitGateway
from tests.frontend.conftest import CONNECTION_TEST_TTL_S, FrontEnd, Site
from tests.helpers import jwt_payload
from tests.livekit.participants import connected, eventually, publish_microphone


# Module-local: the rest of the suite's `alice` is an in-process browser.
@pytest.fixture
async def alice(site: Site) -> AsyncIterator[FrontEnd]:
    async with site.front_end() as front_end:
        await front_end.login("alice@example.com")
        yield front_end


@pytest.fixture
async def guest(site: Site) -> AsyncIterator[FrontEnd]:
    async with site.front_end() as front_end:
        yield front_end


HSL = re.compile(r"^hsl\((\d{1,3}), (\d{2})%, (\d{2})%\)$")


def _reads_as_a_room(room: dict[str, Any]) -> None:
    """ApiRoom: what the front end reads from a room."""
    assert set(room) >= {"id", "name", "slug", "access_level", "is_administrable"}
    assert room["access_level"] in ("public", "trusted", "restricted")
    assert set(room["configuration"]) >= {"can_publish_sources"}


def _reads_as_livekit(livekit: dict[str, Any], url: str) -> None:
    assert livekit["url"] == url
    assert livekit["room"]
    assert jwt_payload(livekit["token"])["video"]["roomJoin"] is True


async def _create(front_end: FrontEnd, slug: str, **body: Any) -> dict[str, Any]:
    """createRoom.ts: POST rooms/?username=<encoded> {name: slug, callback_id}."""
    answer = await front_end.api("POST", "rooms/?username=", {"name": slug, **body})
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def _entry(front_end: FrontEnd, room_id: str, username: str) -> dict[str, Any]:
    """requestEntry.ts: POST rooms/{id}/request-entry/ {username}."""
    answer = await front_end.api("POST", f"/rooms/{room_id}/request-entry/", {"username": username})
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


# api/useConfig.ts
async def test_use_config(site: Site, guest: FrontEnd) -> None:
    answer = await guest.api("GET", "config/")

    assert answer.status_code == 200
    config = answer.json()
    assert config["livekit"]["url"] == site.live.livekit.url
    assert config["livekit"]["force_wss_protocol"] is False
    assert config["livekit"]["enable_firefox_proxy_workaround"] is False
    assert config["livekit"]["default_sources"] == [
        "camera",
        "microphone",
        "screen_share",
        "screen_share_audio",
    ]
    # The front end mutes a joiner when the room has more participants than this.
    assert config["auto_mute_on_join_threshold"] == 50
    assert config["max_participants_for_sound"] == 5
    assert config["diagnostics"] == {"connection_test_enabled": True}
    assert config["recording"]["is_enabled"] is False
    assert config["subtitle"] == {"enabled": False}
    assert config["background_image"]["upload_is_enabled"] is False
    assert config["telephony"]["enabled"] is False
    assert config["feedback"] == {}
    assert config["is_silent_login_enabled"] is False  # no OpenID provider here
    assert config["authenticated_users_can_edit_display_name"] is True


# features/auth/api/fetchUser.ts
async def test_fetch_user(alice: FrontEnd, guest: FrontEnd) -> None:
    logged_in = await alice.api("GET", "/users/me/")
    logged_out = await guest.api("GET", "/users/me/")

    assert logged_in.status_code == 200
    assert set(logged_in.json()) >= {"id", "email", "full_name", "short_name", "language"}
    assert logged_in.json()["email"] == "alice@example.com"
    assert logged_out.status_code == 401  # "logged out", never 403


# features/auth/api/updateUserPreferences.ts
async def test_update_user_preferences(alice: FrontEnd) -> None:
    me = (await alice.api("GET", "/users/me/")).json()

    answer = await alice.api(
        "PATCH", f"/users/{me['id']}/", {"timezone": "Europe/Paris", "language": "fr-fr"}
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["timezone"] == "Europe/Paris"
    assert answer.json()["language"] == "fr-fr"


# features/auth/utils/logout.ts (a navigation, not fetchApi)
async def test_logout(alice: FrontEnd) -> None:
    answer = await alice.get("/api/v1.0/logout")

    assert answer.status_code == 302
    assert (await alice.api("GET", "/users/me/")).status_code == 401


# features/rooms/api/createRoom.ts (the instant meeting: a generated slug as name)
async def test_create_room(site: Site, alice: FrontEnd) -> None:
    answer = await alice.api("POST", "rooms/?username=Alice%20A.", {"name": "abc-defg-hij"})

    assert answer.status_code == 201, answer.text
    room = answer.json()
    _reads_as_a_room(room)
    assert room["slug"] == "abc-defg-hij"
    assert room["is_administrable"] is True
    _reads_as_livekit(room["livekit"], site.live.livekit.url)
    assert jwt_payload(room["livekit"]["token"])["name"] == "Alice A."


# features/rooms/api/fetchRoom.ts (with and without ?username=)
async def test_fetch_room(site: Site, alice: FrontEnd, guest: FrontEnd) -> None:
    room = await _create(alice, "fetch-me")

    plain = await guest.api("GET", f"/rooms/{room['slug']}/")
    named = await guest.api("GET", f"/rooms/{room['id']}/?username=Guest%20One")
    missing = await guest.api("GET", "/rooms/no-such-room/")

    assert plain.status_code == 200
    _reads_as_a_room(plain.json())
    assert plain.json()["is_administrable"] is False
    _reads_as_livekit(named.json()["livekit"], site.live.livekit.url)
    assert jwt_payload(named.json()["livekit"]["token"])["name"] == "Guest One"
    assert missing.status_code == 404  # the front end shows "no such room"


# features/rooms/api/requestEntry.ts
async def test_request_entry(alice: FrontEnd, guest: FrontEnd) -> None:
    room = await _create(alice, "lobby-entry")
    await alice.api("PATCH", f"/rooms/{room['id']}/", {"access_level": "restricted"})

    entry = await _entry(guest, room["id"], "Guest")

    assert entry["status"] == "waiting"
    assert entry["livekit"] is None
    assert HSL.match(entry["color"])


# features/rooms/api/listWaitingParticipants.ts
async def test_list_waiting_participants(alice: FrontEnd, guest: FrontEnd) -> None:
    room = await _create(alice, "lobby-list", access_level="restricted")
    entry = await _entry(guest, room["id"], "Guest")

    answer = await alice.api("GET", f"/rooms/{room['id']}/waiting-participants/")

    assert answer.status_code == 200
    [waiting] = answer.json()["participants"]
    assert waiting["id"] == entry["id"]
    assert waiting["username"] == "Guest"
    assert waiting["status"] == "waiting"
    assert HSL.match(waiting["color"])


# features/rooms/api/enterRoom.ts (admit, then the waiting page's poll gets its token)
async def test_enter_room(site: Site, alice: FrontEnd, guest: FrontEnd) -> None:
    room = await _create(alice, "lobby-enter", access_level="restricted")
    entry = await _entry(guest, room["id"], "Guest")

    answer = await alice.api(
        "POST", f"/rooms/{room['id']}/enter/", {"participant_id": entry["id"], "allow_entry": True}
    )

    assert answer.status_code == 200, answer.text
    assert isinstance(answer.json(), dict)
    admitted = await _entry(guest, room["id"], "Guest")
    assert admitted["status"] == "accepted"
    _reads_as_livekit(admitted["livekit"], site.live.livekit.url)


# features/rooms/api/muteParticipant.ts (and muteParticipants.ts, the same call per person)
async def test_mute_participant(
    site: Site, alice: FrontEnd, guest: FrontEnd, gateway: TwirpLiveKitGateway
) -> None:
    room = await _create(alice, "mute-one")
    entry = await _entry(guest, room["id"], "Guest")
    async with connected(site.live.livekit.url, entry["livekit"]["token"]) as rtc:
        sid = await publish_microphone(rtc)

        async def listed() -> bool:
            info = await gateway.get_participant(room["id"], entry["id"])
            return [t.sid for t in info.tracks] == [sid]

        await eventually(listed, "the server lists the guest's microphone")
        answer = await alice.api(
            "POST",
            f"rooms/{room['id']}/mute-participant/",
            {"participant_identity": entry["id"], "track_sid": sid},
        )

        assert answer.status_code == 200, answer.text
        assert answer.json() == {"status": "success"}
        info = await gateway.get_participant(room["id"], entry["id"])
        assert [t.muted for t in info.tracks] == [True]


# features/rooms/api/updateParticipantPermissions.ts (and the plural one, per person)
async def test_update_participant_permissions(
    site: Site, alice: FrontEnd, guest: FrontEnd, gateway: TwirpLiveKitGateway
) -> None:
    room = await _create(alice, "permissions")
    entry = await _entry(guest, room["id"], "Guest")
    async with connected(site.live.livekit.url, entry["livekit"]["token"]) as rtc:
        permissions = rtc.local_participant.permissions
        body = {
            "participant_identity": entry["id"],
            "permission": {
                "can_subscribe": permissions.can_subscribe,
                "can_publish_data": permissions.can_publish_data,
                "can_update_metadata": permissions.can_update_metadata,
                "can_subscribe_metrics": permissions.can_subscribe_metrics,
                "can_publish": True,
                "can_publish_sources": ["camera"],
            },
        }
        answer = await alice.api("POST", f"rooms/{room['id']}/update-participant/", body)

        assert answer.status_code == 200, answer.text
        info = await gateway.get_participant(room["id"], entry["id"])
        assert list(info.permission.can_publish_sources) == [TrackSource.CAMERA]


# features/rooms/api/lowerHandParticipant.ts (and lowerHandParticipants.ts, per person)
async def test_lower_hand_participant(
    site: Site, alice: FrontEnd, guest: FrontEnd, gateway: TwirpLiveKitGateway
) -> None:
    room = await _create(alice, "hands")
    entry = await _entry(guest, room["id"], "Guest")
    token = entry["livekit"]["token"]
    async with connected(site.live.livekit.url, token) as rtc:
        raised = await guest.api(
            "POST",
            f"rooms/{room['id']}/toggle-hand/",
            {"raised": True},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert raised.status_code == 200, raised.text

        async def seen() -> bool:
            return bool(rtc.local_participant.attributes.get("handRaisedAt"))

        await eventually(seen, "the guest's client sees its hand raised")
        body = {
            "participant_identity": entry["id"],
            "attributes": {**rtc.local_participant.attributes, "handRaisedAt": ""},
        }
        answer = await alice.api("POST", f"rooms/{room['id']}/update-participant/", body)

        assert answer.status_code == 200, answer.text
        info = await gateway.get_participant(room["id"], entry["id"])
        assert info.attributes.get("handRaisedAt", "") == ""
        assert info.attributes["color"] == entry["color"]


# features/rooms/api/removeParticipant.ts
async def test_remove_participant(
    site: Site, alice: FrontEnd, guest: FrontEnd, gateway: TwirpLiveKitGateway
) -> None:
    room = await _create(alice, "remove")
    entry = await _entry(guest, room["id"], "Guest")
    async with connected(site.live.livekit.url, entry["livekit"]["token"]):
        answer = await alice.api(
            "POST",
            f"rooms/{room['id']}/remove-participant/",
            {"participant_identity": entry["id"]},
        )

        assert answer.status_code == 200, answer.text

        async def gone() -> bool:
            listed = await gateway.list_participants(room["id"])
            return entry["id"] not in {p.identity for p in listed}

        await eventually(gone, "the guest left the room")


# features/rooms/api/updateRaiseHand.ts (the participant itself, with its LiveKit token)
async def test_update_raise_hand(
    site: Site, alice: FrontEnd, guest: FrontEnd, gateway: TwirpLiveKitGateway
) -> None:
    room = await _create(alice, "raise")
    entry = await _entry(guest, room["id"], "Guest")
    token = entry["livekit"]["token"]
    async with connected(site.live.livekit.url, token):
        answer = await guest.api(
            "POST",
            f"rooms/{room['id']}/toggle-hand/",
            {"raised": True},
            headers={"Authorization": f"Bearer {token}"},
        )

        assert answer.status_code == 200, answer.text
        info = await gateway.get_participant(room["id"], entry["id"])
        assert info.attributes["handRaisedAt"].startswith("20")


# features/rooms/api/renameParticipant.ts
async def test_rename_participant(
    site: Site, alice: FrontEnd, guest: FrontEnd, gateway: TwirpLiveKitGateway
) -> None:
    room = await _create(alice, "rename")
    entry = await _entry(guest, room["id"], "Guest")
    token = entry["livekit"]["token"]
    async with connected(site.live.livekit.url, token):
        answer = await guest.api(
            "POST",
            f"rooms/{room['id']}/rename/",
            {"name": "Renamed guest"},
            headers={"Authorization": f"Bearer {token}"},
        )

        assert answer.status_code == 200, answer.text
        assert (await gateway.get_participant(room["id"], entry["id"])).name == "Renamed guest"


# features/participants/api/updateParticipantRole.ts
async def test_update_participant_role(
    site: Site, alice: FrontEnd, gateway: TwirpLiveKitGateway
) -> None:
    room = await _create(alice, "roles")
    async with site.front_end() as bob:
        await bob.login("bob@example.com")
        token = (await bob.api("GET", f"/rooms/{room['id']}/")).json()["livekit"]["token"]
        async with connected(site.live.livekit.url, token) as rtc:
            identity = rtc.local_participant.identity
            answer = await alice.api(
                "POST",
                f"rooms/{room['id']}/update-participant-role/",
                {"participant_identity": identity, "role": "administrator"},
            )

            assert answer.status_code == 200, answer.text
            info = await gateway.get_participant(room["id"], identity)
            assert info.attributes["room_role"] == "administrator"


# features/sdk: createRoom.ts with a callbackId, then the opener's poll
async def test_creation_callback(guest: FrontEnd, alice: FrontEnd) -> None:
    before = await guest.api("POST", "rooms/creation-callback/", {"callback_id": "cb-12345"})
    room = await _create(alice, "from-the-sdk", callback_id="cb-12345")

    first = await guest.api("POST", "rooms/creation-callback/", {"callback_id": "cb-12345"})
    again = await guest.api("POST", "rooms/creation-callback/", {"callback_id": "cb-12345"})

    assert before.json() == {"status": "success", "room": None}
    assert first.status_code == 200
    assert first.json()["status"] == "success"
    assert first.json()["room"]["id"] == room["id"]
    assert first.json()["room"]["slug"] == "from-the-sdk"
    assert "livekit" not in first.json()["room"]  # no token to whoever asks
    assert again.json() == {"status": "success", "room": None}  # once only


# features/diagnostics/api/fetchConnectionTestDetails.ts
async def test_fetch_connection_test_details(
    site: Site, guest: FrontEnd, gateway: TwirpLiveKitGateway
) -> None:
    first = await guest.api("POST", "/diagnostics/connection/")
    second = await guest.api("POST", "/diagnostics/connection/")

    assert first.status_code == 200, first.text
    details = first.json()["livekit"]
    assert details["url"] == site.live.livekit.url
    assert details["expires_in"] == CONNECTION_TEST_TTL_S
    assert details["room"] != second.json()["livekit"]["room"]  # testers never meet
    claims = jwt_payload(details["token"])
    assert claims["video"]["room"] == details["room"]
    assert not claims["video"].get("roomAdmin")
    assert claims["exp"] - claims["nbf"] == CONNECTION_TEST_TTL_S
    async with connected(details["url"], details["token"]) as rtc:
        assert rtc.local_participant.identity == claims["sub"]
        [live_room] = await gateway.list_rooms([details["room"]])
        assert live_room.max_participants == 1


# the invitation dialog: POST rooms/{id}/invite/ {emails}
async def test_invite_to_room(site: Site, alice: FrontEnd) -> None:
    room = await _create(alice, "invited")
    site.mailbox.messages.clear()

    answer = await alice.api(
        "POST",
        f"/rooms/{room['id']}/invite/",
        {"emails": ["bob@example.com", "carol@example.com", "BOB@example.com"]},
    )

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "success", "message": "invitations sent"}
    recipients = sorted(rcpt for m in site.mailbox.messages for rcpt in m.rcpt_tos)
    assert recipients == ["bob@example.com", "carol@example.com"]
    content = site.mailbox.messages[0].content or b""
    text = content.decode() if isinstance(content, bytes) else content
    assert "https://meet.antechamber.test/invited" in text
    assert "Subject: alice invites you to a meeting: invited" in text


# features/recording/api/startRecording.ts, stopRecording.ts, fetchRecording.ts;
# subtitles; features/files/api/*.ts: features this service doesn't offer
async def test_calls_not_offered_answer_a_clear_404(alice: FrontEnd) -> None:
    room = await _create(alice, "not-offered")
    calls = [
        ("POST", f"rooms/{room['id']}/start-recording/", {"mode": "transcript"}),
        ("POST", f"rooms/{room['id']}/stop-recording/", None),
        ("GET", "recordings/0f3a3f4e-7f8e-4d1c-9f51-1a2b3c4d5e6f/", None),
        ("POST", f"rooms/{room['id']}/start-subtitle/", None),
        ("GET", "/files?page=1&page_size=20&is_creator_me=true&type=background_image", None),
        ("POST", "files/", {"title": "bg.png", "type": "background_image"}),
        ("DELETE", "files/0f3a3f4e-7f8e-4d1c-9f51-1a2b3c4d5e6f/", None),
    ]
    for method, url, body in calls:
        answer = await alice.api(method, url, body)
        assert answer.status_code == 404, (method, url, answer.text)
        assert "not offered" in answer.json()["detail"]
