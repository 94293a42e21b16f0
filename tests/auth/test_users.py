"""The user's own profile: users/me and PUT/PATCH users/{id}."""

from __future__ import annotations

import pytest

from tests.conftest import Browser
from tests.helpers import API, me


async def test_it_shows_the_logged_in_user(alice: Browser) -> None:
    response = await alice.get(API + "users/me/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "email", "full_name", "short_name", "language", "timezone"}
    assert body["email"] == "alice@example.com"


async def test_it_answers_401_never_403_when_logged_out(anonymous: Browser) -> None:
    for path in ("users/me/", "users/me"):
        response = await anonymous.get(API + path)
        assert response.status_code == 401, path


async def test_it_saves_and_echoes_profile_changes(alice: Browser) -> None:
    user = await me(alice)

    patched = await alice.patch(
        f"{API}users/{user['id']}/", json={"full_name": "  Alice Liddell ", "language": "fr"}
    )
    put = await alice.put(f"{API}users/{user['id']}/", json={"timezone": "Europe/Paris"})

    assert patched.status_code == 200, patched.text
    assert patched.json()["full_name"] == "Alice Liddell"
    assert patched.json()["short_name"] == "Alice"
    assert put.status_code == 200, put.text
    assert await me(alice) == {**patched.json(), "timezone": "Europe/Paris"}


async def test_it_refuses_to_change_someone_else(alice: Browser, bob: Browser) -> None:
    bob_user = await me(bob)

    other = await alice.patch(f"{API}users/{bob_user['id']}/", json={"full_name": "Mallory"})
    unknown = await alice.patch(
        f"{API}users/00000000-0000-4000-8000-000000000000/", json={"full_name": "Mallory"}
    )

    assert other.status_code == 403
    assert unknown.status_code == 404
    assert (await me(bob))["full_name"] == bob_user["full_name"]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "mallory@example.com"},
        {"id": "00000000-0000-4000-8000-000000000000"},
        {"timezone": "Mars/Olympus_Mons"},
        {"language": "not a language"},
        {"full_name": ""},
        {"full_name": "x" * 10_000},
        {"full_name": "nul\x00"},
        {"full_name": None, "sub": "admin"},
    ],
)
async def test_it_refuses_bad_profile_changes(alice: Browser, body: dict[str, object]) -> None:
    user = await me(alice)

    for method in ("PUT", "PATCH"):
        response = await alice.request(method, f"{API}users/{user['id']}/", json=body)
        assert response.status_code == 400, (method, response.text)
        assert response.json()
    assert await me(alice) == user


async def test_it_refuses_a_malformed_user_id(alice: Browser, anonymous: Browser) -> None:
    assert (await alice.patch(f"{API}users/not-a-uuid/", json={})).status_code == 404
    # Ids are UUIDs: anything else is no such user, logged in or not.
    assert (await anonymous.patch(f"{API}users/not-a-uuid/", json={})).status_code == 404
