"""request-entry, the waiting list and decisions, over HTTP, on both stacks."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from antechamber.settings import LobbySettings
from tests.conftest import Browser, Stack
from tests.helpers import ROOMS, create_room, jwt_payload, me
from tests.livekit_helpers import verify


def entry(room: dict[str, Any]) -> str:
    return f"{ROOMS}{room['slug']}/request-entry/"


def decide(room: dict[str, Any]) -> str:
    return f"{ROOMS}{room['id']}/enter/"


def waiting(room: dict[str, Any]) -> str:
    return f"{ROOMS}{room['id']}/waiting-participants/"


async def test_it_lets_anyone_into_a_public_room_at_once_and_stores_nothing(
    alice: Browser, anonymous: Browser
) -> None:
    room = await create_room(alice, "Open house")
    response = await anonymous.post(entry(room), json={"username": "Guest"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "accepted"
    assert body["username"] == "Guest"
    claims = verify(body["livekit"]["token"])
    assert claims.identity == body["id"]
    assert claims.video is not None
    assert not claims.video.room_admin
    assert anonymous.cookies.get("lobbyParticipantId")
    assert (await alice.get(waiting(room))).json() == {"participants": []}


async def test_it_makes_anonymous_callers_wait_in_a_trusted_room(
    alice: Browser, bob: Browser, anonymous: Browser
) -> None:
    room = await create_room(alice, "Trusted", access_level="trusted")
    waiting_body = (await anonymous.post(entry(room), json={"username": "  Zoé  "})).json()
    assert waiting_body["status"] == "waiting"
    assert waiting_body["livekit"] is None
    assert waiting_body["username"] == "Zoé"
    assert waiting_body["color"].startswith("hsl(")
    bob_body = (await bob.post(entry(room), json={})).json()
    assert bob_body["status"] == "accepted"
    assert verify(bob_body["livekit"]["token"]).identity == "dev|bob@example.com"
    listed = (await alice.get(waiting(room))).json()["participants"]
    assert [(p["id"], p["username"], p["status"]) for p in listed] == [
        (waiting_body["id"], "Zoé", "waiting")
    ]
    assert listed[0]["requested_at"].endswith("Z")


async def test_it_admits_a_waiting_participant_with_a_least_privilege_token(
    alice: Browser, anonymous: Browser
) -> None:
    room = await create_room(
        alice,
        "Restricted",
        access_level="restricted",
        configuration={"can_publish_sources": ["microphone"]},
    )
    waiting_id = (await anonymous.post(entry(room), json={"username": "Ann"})).json()["id"]
    response = await alice.post(
        decide(room), json={"participant_id": waiting_id, "allow_entry": True}
    )
    assert response.status_code == 200
    assert response.json() == {}
    polled = (await anonymous.post(entry(room), json={"username": "Ann"})).json()
    assert polled["status"] == "accepted"
    claims = verify(polled["livekit"]["token"])
    assert claims.identity == waiting_id
    assert claims.name == "Ann"
    raw = jwt_payload(polled["livekit"]["token"])["video"]
    assert raw["canPublishSources"] == ["microphone"]
    assert "roomAdmin" not in raw
    assert (await alice.get(waiting(room))).json() == {"participants": []}


async def test_it_keeps_a_denial(alice: Browser, anonymous: Browser) -> None:
    room = await create_room(alice, "Closed", access_level="restricted")
    waiting_id = (await anonymous.post(entry(room), json={})).json()["id"]
    denied = await alice.post(
        decide(room), json={"participant_id": waiting_id, "allow_entry": False}
    )
    assert denied.status_code == 200
    again = (await anonymous.post(entry(room), json={})).json()
    assert again["status"] == "denied"
    assert again["livekit"] is None


async def test_it_answers_409_to_a_losing_decision_and_200_to_a_repeat(
    alice: Browser, anonymous: Browser
) -> None:
    room = await create_room(alice, "Race", access_level="restricted")
    waiting_id = (await anonymous.post(entry(room), json={})).json()["id"]
    yes = {"participant_id": waiting_id, "allow_entry": True}
    no = {"participant_id": waiting_id, "allow_entry": False}
    assert (await alice.post(decide(room), json=yes)).status_code == 200
    assert (await alice.post(decide(room), json=yes)).status_code == 200
    conflict = await alice.post(decide(room), json=no)
    assert conflict.status_code == 409
    assert "accepted" in conflict.json()["detail"]
    unknown = {"participant_id": str(uuid.uuid4()), "allow_entry": True}
    assert (await alice.post(decide(room), json=unknown)).status_code == 404


async def test_it_decides_for_everyone_at_once(alice: Browser, stack: Stack) -> None:
    room = await create_room(alice, "Crowd", access_level="restricted")
    for name in ("A", "B", "C"):
        async with stack.browser() as guest:
            await guest.post(entry(room), json={"username": name})
    response = await alice.post(f"{ROOMS}{room['id']}/enter-all/", json={"allow_entry": True})
    assert response.json() == {"count": 3}
    assert (await alice.get(waiting(room))).json() == {"participants": []}


async def test_it_gives_a_forged_cookie_a_new_place_not_someone_elses(
    alice: Browser, stack: Stack
) -> None:
    room = await create_room(alice, "Forgery", access_level="restricted")
    async with stack.browser() as ann:
        ann_id = (await ann.post(entry(room), json={"username": "Ann"})).json()["id"]
        await alice.post(decide(room), json={"participant_id": ann_id, "allow_entry": True})
    for forged in (ann_id, "x" * 43, "", "not a secret!"):
        async with stack.browser() as mallory:
            mallory.cookies.set("lobbyParticipantId", forged)
            body = (await mallory.post(entry(room), json={"username": "Ann"})).json()
        assert body["status"] == "waiting"
        assert body["id"] != ann_id
        assert body["livekit"] is None


async def test_it_refuses_admin_calls_from_non_admins(
    alice: Browser, bob: Browser, anonymous: Browser
) -> None:
    room = await create_room(alice, "Guarded", access_level="restricted")
    other = await create_room(bob, "Bob's own", access_level="restricted")
    body = {"participant_id": str(uuid.uuid4()), "allow_entry": True}
    for path, method, payload in (
        (waiting(room), "GET", None),
        (decide(room), "POST", body),
        (f"{ROOMS}{room['id']}/enter-all/", "POST", {"allow_entry": True}),
    ):
        as_bob = await bob.request(method, path, json=payload)
        as_anonymous = await anonymous.request(method, path, json=payload)
        assert as_bob.status_code == 403, path
        assert as_anonymous.status_code == 401, path
    assert (await bob.get(waiting(other))).status_code == 200


async def test_it_rejects_bad_input_with_reasons(alice: Browser, anonymous: Browser) -> None:
    public = await create_room(alice, "Public")
    room = await create_room(alice, "Lobby", access_level="restricted")
    cases = [
        (f"{ROOMS}no-such-room/request-entry/", {}, 404),
        (f"{ROOMS}{uuid.uuid4()}/request-entry/", {}, 404),
        (entry(room), {"username": ""}, 200),  # blank means "not given"
        (entry(room), {"username": "x" * 101}, 400),
        (entry(room), {"username": "x" * 10_000}, 400),
        (entry(room), {"username": 12}, 400),
        (entry(room), {"unknown": 1}, 400),
    ]
    for path, payload, status in cases:
        response = await anonymous.post(path, json=payload)
        assert response.status_code == status, (path, payload, response.text)
    malformed = await alice.post(decide(room), json={"participant_id": "nope", "allow_entry": True})
    assert malformed.status_code == 400
    assert "participant_id" in malformed.json()
    missing = await alice.post(decide(room), json={"participant_id": str(uuid.uuid4())})
    assert missing.status_code == 400
    in_public = await alice.post(
        decide(public), json={"participant_id": str(uuid.uuid4()), "allow_entry": True}
    )
    assert in_public.status_code == 400
    assert "Public rooms" in in_public.json()["detail"]
    assert (await alice.post(f"{ROOMS}nope/enter/", json={})).status_code in (400, 404)


@pytest.mark.parametrize(
    "settings_overrides",
    [{"lobby": LobbySettings(max_waiting_per_room=2, rate_limit_per_minute=0)}],
)
async def test_it_refuses_newcomers_when_the_lobby_is_full(alice: Browser, stack: Stack) -> None:
    room = await create_room(alice, "Small", access_level="restricted")
    statuses = []
    for _ in range(3):
        async with stack.browser() as guest:
            statuses.append((await guest.post(entry(room), json={})).status_code)
    assert statuses == [200, 200, 409]


@pytest.mark.parametrize("settings_overrides", [{"lobby": LobbySettings(rate_limit_per_minute=3)}])
async def test_it_limits_new_requests_per_address(alice: Browser, stack: Stack) -> None:
    room = await create_room(alice, "Flooded", access_level="restricted")
    responses = []
    for _ in range(4):
        async with stack.browser() as guest:
            responses.append(await guest.post(entry(room), json={}))
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert int(responses[-1].headers["Retry-After"]) >= 1


async def test_it_sends_authenticated_users_without_a_role_to_the_lobby_of_restricted_rooms(
    alice: Browser, bob: Browser
) -> None:
    room = await create_room(alice, "Members only", access_level="restricted")
    body = (await bob.post(entry(room), json={"username": "Bobby"})).json()
    assert body["status"] == "waiting"
    await alice.post(decide(room), json={"participant_id": body["id"], "allow_entry": True})
    accepted = (await bob.post(entry(room), json={})).json()
    claims = verify(accepted["livekit"]["token"])
    assert claims.identity == "dev|bob@example.com"
    assert claims.attributes is not None
    assert claims.attributes["is_authenticated"] == "true"
    assert claims.attributes["room_role"] == ""
    assert (await me(bob))["email"] == "bob@example.com"
