"""The bodies La Suite Meet's front end really sends to update-participant, replayed
against the real LiveKit server: the participant's whole current permission set and
attributes come back, and only what is really granted or changed counts."""

from __future__ import annotations

from typing import Any

from antechamber.livekit.models import TrackSource
from antechamber.livekit.twirp import TwirpLiveKitGateway
from tests.helpers import create_room
from tests.http_server import HttpBrowser
from tests.livekit.conftest import Live
from tests.livekit.participants import connected, eventually
from tests.moderation.live import ROOMS

SOURCES = [
    TrackSource.MICROPHONE,
    TrackSource.SCREEN_SHARE,
    TrackSource.SCREEN_SHARE_AUDIO,
]


async def _anonymous_guest(guest: HttpBrowser, room_id: str) -> dict[str, Any]:
    entry = await guest.post(f"{ROOMS}{room_id}/request-entry/", json={"username": "Guest"})
    assert entry.status_code == 200, entry.text
    assert entry.json()["status"] == "accepted"
    return entry.json()  # type: ignore[no-any-return]


async def test_it_takes_the_host_switches_whole_permission_set(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as guest:
        await alice.login("alice@example.com")
        room = await create_room(alice, "Switches", access_level="public")
        entry = await _anonymous_guest(guest, room["id"])
        async with connected(live.livekit.url, entry["livekit"]["token"]) as guest_rtc:
            identity = guest_rtc.local_participant.identity
            # Exactly what the front end's "video" switch sends (camera turned off).
            body = {
                "participant_identity": identity,
                "permission": {
                    "can_subscribe": True,
                    "can_publish_data": True,
                    "can_update_metadata": False,
                    "can_subscribe_metrics": False,
                    "can_publish": True,
                    "can_publish_sources": ["microphone", "screen_share", "screen_share_audio"],
                },
            }
            answer = await alice.post(f"{ROOMS}{room['id']}/update-participant/", json=body)

            assert answer.status_code == 200, answer.text
            assert answer.json() == {"status": "success"}
            info = await gateway.get_participant(room["id"], identity)
            assert list(info.permission.can_publish_sources) == SOURCES
            assert info.permission.can_update_metadata is False
            assert info.permission.hidden is False

            async def seen_by_the_guest() -> bool:
                sources = guest_rtc.local_participant.permissions.can_publish_sources
                return [int(s) for s in sources] == [int(s) for s in SOURCES]

            await eventually(seen_by_the_guest, "the guest's client learned its permissions")


async def test_it_refuses_a_forbidden_permission_actually_granted(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as guest:
        await alice.login("alice@example.com")
        room = await create_room(alice, "No grants", access_level="public")
        entry = await _anonymous_guest(guest, room["id"])
        async with connected(live.livekit.url, entry["livekit"]["token"]) as guest_rtc:
            identity = guest_rtc.local_participant.identity
            for name in ("can_update_metadata", "hidden", "recorder", "agent"):
                body = {
                    "participant_identity": identity,
                    "permission": {"can_publish_sources": ["microphone"], name: True},
                }
                answer = await alice.post(f"{ROOMS}{room['id']}/update-participant/", json=body)

                assert answer.status_code == 400, answer.text
                assert list(answer.json()) == ["permission"]
                assert name in answer.json()["permission"][0]
            info = await gateway.get_participant(room["id"], identity)
            assert len(info.permission.can_publish_sources) == 4  # nothing was written
            assert info.permission.can_update_metadata is False
            assert info.permission.hidden is False


async def test_it_lowers_a_hand_from_the_whole_attribute_set(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as guest:
        await alice.login("alice@example.com")
        room = await create_room(alice, "Hands down", access_level="public")
        entry = await _anonymous_guest(guest, room["id"])
        guest_token = entry["livekit"]["token"]
        async with connected(live.livekit.url, guest_token) as guest_rtc:
            identity = guest_rtc.local_participant.identity
            raised = await guest.post(
                f"{ROOMS}{room['id']}/toggle-hand/",
                json={"raised": True},
                headers={"Authorization": f"Bearer {guest_token}"},
            )
            assert raised.status_code == 200, raised.text
            before = dict((await gateway.get_participant(room["id"], identity)).attributes)
            assert before["handRaisedAt"].startswith("20")
            assert before["color"] == entry["color"]

            # Exactly what the front end's "lower hand" sends: every current attribute
            # back (this guest's own colour), handRaisedAt emptied.
            body = {
                "participant_identity": identity,
                "attributes": {
                    "is_authenticated": "false",
                    "room_role": "",
                    "handRaisedAt": "",
                    "color": entry["color"],
                },
            }
            answer = await alice.post(f"{ROOMS}{room['id']}/update-participant/", json=body)

            assert answer.status_code == 200, answer.text
            after = dict((await gateway.get_participant(room["id"], identity)).attributes)
            assert after.get("handRaisedAt", "") == ""
            unchanged = {k: v for k, v in before.items() if k != "handRaisedAt"}
            assert {k: v for k, v in after.items() if k != "handRaisedAt"} == unchanged

            async def seen_by_the_guest() -> bool:
                return guest_rtc.local_participant.attributes.get("handRaisedAt", "") == ""

            await eventually(seen_by_the_guest, "the guest's client saw its hand lowered")


async def test_it_refuses_to_change_a_reserved_attribute(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as guest:
        await alice.login("alice@example.com")
        room = await create_room(alice, "Reserved", access_level="public")
        entry = await _anonymous_guest(guest, room["id"])
        async with connected(live.livekit.url, entry["livekit"]["token"]) as guest_rtc:
            identity = guest_rtc.local_participant.identity
            before = dict((await gateway.get_participant(room["id"], identity)).attributes)
            for attributes in (
                {"room_role": "administrator", "handRaisedAt": ""},
                {"is_authenticated": "true"},
                {"color": "hsl(1, 60%, 40%)" if entry["color"] != "hsl(1, 60%, 40%)" else "x"},
            ):
                answer = await alice.post(
                    f"{ROOMS}{room['id']}/update-participant/",
                    json={"participant_identity": identity, "attributes": attributes},
                )

                assert answer.status_code == 400, answer.text
                assert list(answer.json()) == ["attributes"]
            after = dict((await gateway.get_participant(room["id"], identity)).attributes)
            assert after == before
