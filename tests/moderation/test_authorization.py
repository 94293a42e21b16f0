"""Who may moderate: only a room's owners and administrators (and, for mute, its
participants when the room allows it). Everyone else is refused before LiveKit is asked."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Browser, Stack
from tests.helpers import ROOMS, create_room, grant, livekit_down, me

ADMIN_ACTIONS: list[tuple[str, dict[str, Any]]] = [
    ("mute-participant", {"participant_identity": "someone", "track_sid": "TR_x"}),
    ("update-participant", {"participant_identity": "someone", "name": "X"}),
    ("remove-participant", {"participant_identity": "someone", "ban_seconds": 60}),
    ("update-participant-role", {"participant_identity": "someone", "role": "administrator"}),
    ("end-meeting", {}),
    ("send-to-lobby", {"participant_identity": "someone"}),
]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return livekit_down()


async def _room(alice: Browser, **fields: Any) -> str:
    config = {"everyone_can_mute": False}
    room = await create_room(alice, "Moderated", configuration=config, **fields)
    return str(room["id"])


@pytest.mark.parametrize(("action", "body"), ADMIN_ACTIONS)
async def test_it_refuses_members_and_other_rooms_admins(
    stack: Stack, alice: Browser, bob: Browser, action: str, body: dict[str, Any]
) -> None:
    room_id = await _room(alice)
    response = await bob.post(f"{ROOMS}{room_id}/{action}/", json=body)
    assert response.status_code == 403, response.text
    # bob administers a room of his own: that gives him nothing here.
    await create_room(bob, "Bob's")
    assert (await bob.post(f"{ROOMS}{room_id}/{action}/", json=body)).status_code == 403
    # a member role on the room neither.
    await grant(alice, room_id, (await me(bob))["id"], "member")
    assert (await bob.post(f"{ROOMS}{room_id}/{action}/", json=body)).status_code == 403


@pytest.mark.parametrize(("action", "body"), ADMIN_ACTIONS)
async def test_it_asks_anonymous_callers_to_log_in(
    alice: Browser, anonymous: Browser, action: str, body: dict[str, Any]
) -> None:
    room_id = await _room(alice)
    response = await anonymous.post(f"{ROOMS}{room_id}/{action}/", json=body)
    assert response.status_code == 401, response.text


@pytest.mark.parametrize("action", ["toggle-hand", "rename"])
async def test_it_wants_a_livekit_token_from_participants(
    alice: Browser, anonymous: Browser, action: str
) -> None:
    room_id = await _room(alice)
    body = {"raised": True} if action == "toggle-hand" else {"name": "Eve"}
    # A session is not a LiveKit token: even the owner must send one.
    for browser in (alice, anonymous):
        response = await browser.post(f"{ROOMS}{room_id}/{action}/", json=body)
        assert response.status_code == 401, response.text
    bogus = {"Authorization": "Bearer not-a-jwt"}
    response = await anonymous.post(f"{ROOMS}{room_id}/{action}/", json=body, headers=bogus)
    assert response.status_code == 401


async def test_it_refuses_a_participant_mute_unless_the_room_allows_it(
    alice: Browser, bob: Browser, anonymous: Browser
) -> None:
    room_id = await _room(alice, access_level="public")
    bob_token = (await bob.get(f"{ROOMS}{room_id}/")).json()["livekit"]["token"]
    body = {"participant_identity": "someone", "track_sid": "TR_x"}
    bearer = {"Authorization": f"Bearer {bob_token}"}
    response = await bob.post(f"{ROOMS}{room_id}/mute-participant/", json=body, headers=bearer)
    assert response.status_code == 403
    response = await anonymous.post(
        f"{ROOMS}{room_id}/mute-participant/", json=body, headers=bearer
    )
    assert response.status_code == 401


async def test_it_refuses_a_token_of_another_room(alice: Browser, bob: Browser) -> None:
    room_id = await _room(alice, access_level="public")
    other = await create_room(bob, "Other", access_level="public")
    bearer = {"Authorization": f"Bearer {other['livekit']['token']}"}
    response = await bob.post(
        f"{ROOMS}{room_id}/toggle-hand/", json={"raised": True}, headers=bearer
    )
    assert response.status_code == 403


async def test_it_keeps_owners_and_own_roles(stack: Stack, alice: Browser, bob: Browser) -> None:
    room_id = await _room(alice)
    alice_sub = await _sub(stack, "alice@example.com")
    await grant(alice, room_id, (await me(bob))["id"], "administrator")
    path = f"{ROOMS}{room_id}/update-participant-role/"
    demote_owner = await bob.post(path, json={"participant_identity": alice_sub, "role": "member"})
    assert demote_owner.status_code == 403
    own = await alice.post(path, json={"participant_identity": alice_sub, "role": "member"})
    assert own.status_code == 403
    bob_sub = await _sub(stack, "bob@example.com")
    own = await bob.post(path, json={"participant_identity": bob_sub, "role": "member"})
    assert own.status_code == 403
    unknown = await alice.post(path, json={"participant_identity": "no-such", "role": "member"})
    assert unknown.status_code == 404
    roles = {
        a["user"]["email"]: a["role"]
        for a in (await alice.get(f"{ROOMS}{room_id}/")).json()["accesses"]
    }
    assert roles == {"alice@example.com": "owner", "bob@example.com": "administrator"}

    # A change that is allowed stands even though nobody is live (LiveKit is down here).
    demoted = await alice.post(path, json={"participant_identity": bob_sub, "role": "member"})
    assert demoted.status_code == 200, demoted.text
    roles = {
        a["user"]["email"]: a["role"]
        for a in (await alice.get(f"{ROOMS}{room_id}/")).json()["accesses"]
    }
    assert roles == {"alice@example.com": "owner", "bob@example.com": "member"}
    assert (
        await bob.post(path, json={"participant_identity": alice_sub, "role": "member"})
    ).status_code == 403


async def _sub(stack: Stack, email: str) -> str:
    from sqlalchemy import select

    from antechamber.users.models import User

    async with stack.app.state.services.sessionmaker() as db:
        sub: str = (await db.execute(select(User.sub).where(User.email == email))).scalar_one()
        return sub
