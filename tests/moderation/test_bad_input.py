"""What a client can get wrong is a 400 (or 503 when LiveKit is down), never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Browser
from tests.helpers import ROOMS, create_room, livekit_down


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return livekit_down()


# hidden, recorder, agent and can_update_metadata are refused only when really granted,
# which needs the participant's current set (see test_front_end_bodies, on a live server).
@pytest.mark.parametrize("field", ["room_admin", "can_fly", "can_publish_sources_all"])
async def test_it_refuses_permissions_this_api_does_not_know(alice: Browser, field: str) -> None:
    room = await create_room(alice, "Strict")
    response = await alice.post(
        f"{ROOMS}{room['id']}/update-participant/",
        json={"participant_identity": "bob", "permission": {field: True}},
    )
    assert response.status_code == 400, response.text
    assert [key.split(".")[0] for key in response.json()] == ["permission"]


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("mute-participant", {"participant_identity": "bob"}),
        ("mute-participant", {"participant_identity": "", "track_sid": "TR_x"}),
        ("mute-participant", {"participant_identity": "bob", "track_sid": "TR_x", "extra": 1}),
        ("update-participant", {"participant_identity": "bob"}),
        ("update-participant", {"participant_identity": "bob", "name": "   "}),
        ("update-participant", {"participant_identity": "bob", "name": "x" * 101}),
        (
            "update-participant",
            {"participant_identity": "bob", "permission": {"hidden": "maybe"}},
        ),
        ("update-participant", {"participant_identity": "bob", "attributes": ["a"]}),
        (
            "update-participant",
            {"participant_identity": "bob", "permission": {"can_publish_sources": ["radio"]}},
        ),
        ("remove-participant", {"participant_identity": "bob", "ban_seconds": 0}),
        ("remove-participant", {"participant_identity": "bob", "ban_seconds": 30 * 86400 + 1}),
        ("remove-participant", {"participant_identity": "bob", "ban_seconds": "soon"}),
        ("update-participant-role", {"participant_identity": "bob", "role": "owner"}),
        ("update-participant-role", {"participant_identity": "bob"}),
        ("end-meeting", {"now": True}),
        ("send-to-lobby", {}),
        ("toggle-hand", {"raised": "maybe"}),
        ("rename", {"name": ""}),
        ("rename", {}),
    ],
)
async def test_it_answers_400_to_malformed_bodies(
    alice: Browser, action: str, body: dict[str, Any]
) -> None:
    room = await create_room(alice, "Malformed", access_level="trusted")
    response = await alice.post(f"{ROOMS}{room['id']}/{action}/", json=body)
    assert response.status_code == 400, response.text


async def test_it_answers_400_to_a_body_that_is_not_json(alice: Browser) -> None:
    room = await create_room(alice, "Garbled")
    response = await alice.post(
        f"{ROOMS}{room['id']}/remove-participant/",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400


async def test_it_answers_404_for_an_unknown_room(alice: Browser) -> None:
    response = await alice.post(f"{ROOMS}no-such-room/end-meeting/", json={})
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("mute-participant", {"participant_identity": "bob", "track_sid": "TR_x"}),
        ("update-participant", {"participant_identity": "bob", "name": "Bob"}),
        (
            "update-participant",
            {"participant_identity": "bob", "permission": {"can_publish": False}},
        ),
        ("remove-participant", {"participant_identity": "bob", "ban_seconds": 60}),
        ("end-meeting", {}),
        ("send-to-lobby", {"participant_identity": "bob"}),
    ],
)
async def test_it_answers_503_while_livekit_is_down(
    alice: Browser, action: str, body: dict[str, Any]
) -> None:
    room = await create_room(alice, "Offline", access_level="trusted")
    response = await alice.post(f"{ROOMS}{room['id']}/{action}/", json=body)
    assert response.status_code == 503, response.text
    assert "LiveKit" in response.json()["detail"]


@pytest.mark.parametrize("action", ["toggle-hand", "rename"])
async def test_it_answers_503_to_a_participant_while_livekit_is_down(
    alice: Browser, action: str
) -> None:
    room = await create_room(alice, "Offline hands", access_level="public")
    bearer = {"Authorization": f"Bearer {room['livekit']['token']}"}
    body = {"raised": True} if action == "toggle-hand" else {"name": "Alice"}
    response = await alice.post(f"{ROOMS}{room['id']}/{action}/", json=body, headers=bearer)
    assert response.status_code == 503, response.text


async def test_it_does_not_ban_when_the_removal_failed(alice: Browser, anonymous: Browser) -> None:
    room = await create_room(alice, "Not banned", access_level="public")
    entry = await anonymous.post(f"{ROOMS}{room['id']}/request-entry/", json={"username": "C"})
    carol = entry.json()["id"]
    removed = await alice.post(
        f"{ROOMS}{room['id']}/remove-participant/",
        json={"participant_identity": carol, "ban_seconds": 60},
    )
    assert removed.status_code == 503
    again = await anonymous.post(f"{ROOMS}{room['id']}/request-entry/", json={"username": "C"})
    assert again.status_code == 200
