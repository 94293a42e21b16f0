"""Role management: only a room's admins see and manage roles, only an owner grants or
removes `owner`, and a room always keeps an owner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import Browser, Stack, logged_in
from tests.helpers import ACCESSES, ROOMS, create_room, grant, me


@pytest.fixture
async def carol(stack: Stack) -> AsyncIterator[Browser]:
    async with logged_in(stack, "carol@example.com") as browser:
        yield browser


@pytest.fixture
async def carol_user(carol: Browser) -> dict[str, Any]:
    return await me(carol)


async def test_it_lists_accesses_only_to_the_rooms_admins(
    alice: Browser, bob: Browser, anonymous: Browser
) -> None:
    room = await create_room(alice, "Team")
    await grant(alice, room["id"], (await me(bob))["id"], "member")

    owner_view = await alice.get(ACCESSES, params={"resource": room["id"]})
    member_view = await bob.get(ACCESSES, params={"resource": room["id"]})

    assert owner_view.status_code == 200
    assert sorted(a["role"] for a in owner_view.json()["results"]) == ["member", "owner"]
    assert member_view.status_code == 200
    assert member_view.json()["count"] == 0
    assert (await anonymous.get(ACCESSES)).status_code == 401
    member_room = (await bob.get(f"{ROOMS}{room['id']}/")).json()
    assert member_room["accesses"] is None
    assert member_room["is_administrable"] is False


async def test_it_hides_an_access_from_whoever_does_not_administer_its_room(
    alice: Browser, bob: Browser, carol: Browser, carol_user: dict[str, Any]
) -> None:
    room = await create_room(alice, "Private")
    access = await grant(alice, room["id"], (await me(bob))["id"], "member")
    assert (await carol.get(f"{ACCESSES}{access['id']}/")).status_code == 404
    assert (
        await carol.patch(f"{ACCESSES}{access['id']}/", json={"role": "owner"})
    ).status_code == 404
    assert (await carol.delete(f"{ACCESSES}{access['id']}/")).status_code == 404
    # A member knows the room but may not manage it.
    assert (await bob.get(f"{ACCESSES}{access['id']}/")).status_code == 403
    assert (
        await bob.patch(f"{ACCESSES}{access['id']}/", json={"role": "administrator"})
    ).status_code == 403
    assert (await alice.get(f"{ACCESSES}{access['id']}/")).json()["role"] == "member"


async def test_it_lets_only_admins_grant_roles(
    alice: Browser, bob: Browser, carol: Browser, carol_user: dict[str, Any]
) -> None:
    room = await create_room(alice, "Grants")
    await grant(alice, room["id"], (await me(bob))["id"], "member")
    by_member = await bob.post(
        ACCESSES, json={"resource": room["id"], "user": carol_user["id"], "role": "member"}
    )
    by_stranger = await carol.post(
        ACCESSES, json={"resource": room["id"], "user": carol_user["id"], "role": "owner"}
    )

    assert by_member.status_code == 403
    assert by_stranger.status_code == 403
    assert (await alice.get(ACCESSES, params={"resource": room["id"]})).json()["count"] == 2


async def test_it_lets_only_an_owner_grant_or_remove_owner(
    alice: Browser, bob: Browser, carol: Browser, carol_user: dict[str, Any]
) -> None:
    room = await create_room(alice, "Owners")
    await grant(alice, room["id"], (await me(bob))["id"], "administrator")
    owners = await alice.get(ACCESSES, params={"resource": room["id"]})
    alice_access = next(a for a in owners.json()["results"] if a["role"] == "owner")
    make_owner = await bob.post(
        ACCESSES, json={"resource": room["id"], "user": carol_user["id"], "role": "owner"}
    )
    assert make_owner.status_code == 403
    member = await grant(bob, room["id"], carol_user["id"], "member")
    assert (
        await bob.patch(f"{ACCESSES}{member['id']}/", json={"role": "owner"})
    ).status_code == 403
    # Administrators can't touch owners at all.
    assert (
        await bob.patch(f"{ACCESSES}{alice_access['id']}/", json={"role": "member"})
    ).status_code == 403
    assert (await bob.delete(f"{ACCESSES}{alice_access['id']}/")).status_code == 403
    promoted = await alice.patch(f"{ACCESSES}{member['id']}/", json={"role": "owner"})
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "owner"
    assert (await carol.get(f"{ROOMS}{room['id']}/")).json()["is_administrable"] is True


async def test_it_lets_an_administrator_manage_members(
    alice: Browser, bob: Browser, carol: Browser, carol_user: dict[str, Any]
) -> None:
    room = await create_room(alice, "Delegation")
    await grant(alice, room["id"], (await me(bob))["id"], "administrator")
    access = await grant(bob, room["id"], carol_user["id"], "member")
    raised = await bob.patch(f"{ACCESSES}{access['id']}/", json={"role": "administrator"})
    removed = await bob.delete(f"{ACCESSES}{access['id']}/")

    assert raised.status_code == 200
    assert raised.json()["role"] == "administrator"
    assert removed.status_code == 204
    assert (await bob.get(f"{ACCESSES}{access['id']}/")).status_code == 404


async def test_it_keeps_the_last_owner(alice: Browser, bob: Browser) -> None:
    room = await create_room(alice, "Last owner")
    only = (await alice.get(ACCESSES, params={"resource": room["id"]})).json()["results"][0]

    demoted = await alice.patch(f"{ACCESSES}{only['id']}/", json={"role": "administrator"})
    removed = await alice.delete(f"{ACCESSES}{only['id']}/")

    assert demoted.status_code == 409
    assert removed.status_code == 409
    assert "owner" in removed.json()["detail"]
    assert (await alice.get(f"{ACCESSES}{only['id']}/")).json()["role"] == "owner"

    second = await grant(alice, room["id"], (await me(bob))["id"], "owner")
    assert (await alice.delete(f"{ACCESSES}{only['id']}/")).status_code == 204
    assert (await bob.delete(f"{ACCESSES}{second['id']}/")).status_code == 409


async def test_it_refuses_a_second_role_for_the_same_user(alice: Browser, bob: Browser) -> None:
    room = await create_room(alice, "Duplicates")
    bob_id = (await me(bob))["id"]
    await grant(alice, room["id"], bob_id, "member")

    again = await alice.post(
        ACCESSES, json={"resource": room["id"], "user": bob_id, "role": "administrator"}
    )
    self_again = await alice.post(
        ACCESSES, json={"resource": room["id"], "user": (await me(alice))["id"], "role": "member"}
    )

    assert again.status_code == 409
    assert self_again.status_code == 409
    roles = (await alice.get(ACCESSES, params={"resource": room["id"]})).json()["results"]
    assert sorted(a["role"] for a in roles) == ["member", "owner"]


async def test_it_refuses_unknown_users_rooms_roles_and_fields(
    alice: Browser, bob: Browser
) -> None:
    room = await create_room(alice, "Validation")
    bob_id = (await me(bob))["id"]
    nobody = "00000000-0000-4000-8000-000000000000"
    # Well-formed ids of nothing: no such user, no such room.
    for missing in (
        {"resource": room["id"], "user": nobody, "role": "member"},
        {"resource": nobody, "user": bob_id, "role": "member"},
    ):
        response = await alice.post(ACCESSES, json=missing)
        assert response.status_code == 404, (missing, response.text)
    bodies: list[object] = [
        {"resource": room["id"], "user": bob_id, "role": "emperor"},
        {"resource": room["id"], "user": bob_id, "role": "member", "extra": True},
        {"resource": "not-a-uuid", "user": bob_id, "role": "member"},
        {"resource": room["id"], "user": bob_id},
        [],
    ]
    for body in bodies:
        response = await alice.post(ACCESSES, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()
    access = await grant(alice, room["id"], bob_id, "member")
    for body in ({"role": "emperor"}, {"role": "owner", "user": nobody}, {}):
        response = await alice.patch(f"{ACCESSES}{access['id']}/", json=body)
        assert response.status_code == 400, (body, response.text)
    assert (await alice.get(f"{ACCESSES}{access['id']}/")).json()["role"] == "member"


async def test_an_administrator_loses_the_waiting_list_with_his_role(
    alice: Browser, bob: Browser
) -> None:
    """On one process too (SQLite and the in-memory broker included): the role his
    earlier polls found is not trusted past its change or removal."""
    room = await create_room(alice, "Trusted", access_level="trusted")
    access = await grant(alice, room["id"], (await me(bob))["id"], "administrator")
    url = f"{ROOMS}{room['slug']}/waiting-participants/"
    assert (await bob.get(url)).status_code == 200

    demoted = await alice.patch(f"{ACCESSES}{access['id']}/", json={"role": "member"})
    assert demoted.status_code == 200, demoted.text
    assert (await bob.get(url)).status_code == 403

    promoted = await alice.patch(f"{ACCESSES}{access['id']}/", json={"role": "administrator"})
    assert promoted.status_code == 200, promoted.text
    assert (await bob.get(url)).status_code == 200
    removed = await alice.delete(f"{ACCESSES}{access['id']}/")
    assert removed.status_code == 204, removed.text
    assert (await bob.get(url)).status_code == 403
