"""Session cookies: only one the service issued, still alive, logs anyone in."""

from __future__ import annotations

import httpx

from tests.conftest import Browser, Stack
from tests.helpers import API, ROOMS, create_room


def _client(stack: Stack, session_cookie: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.app),
        base_url="http://testserver",
        headers={"Cookie": f"sessionid={session_cookie}; csrftoken=t", "X-CSRFToken": "t"},
    )


async def test_it_treats_a_missing_session_as_logged_out(anonymous: Browser) -> None:
    response = await anonymous.get(API + "users/me/")

    assert response.status_code == 401
    assert response.json()["detail"]


async def test_it_ignores_forged_and_foreign_session_cookies(stack: Stack, alice: Browser) -> None:
    room = await create_room(alice, "Open")
    real = alice.cookies.get("sessionid")
    assert real
    forged = [
        "random-value",
        real[:-2] + ("aa" if not real.endswith("aa") else "bb"),
        "x" * 5000,
        "",
        "%00",
        "%C3%A9",
        "a b;c",
    ]
    for cookie in forged:
        async with _client(stack, cookie) as client:
            assert (await client.get(API + "users/me/")).status_code == 401, cookie
            assert (await client.post(ROOMS, json={"name": "x"})).status_code == 401, cookie
            # Anonymous visitors are still served where anonymous visitors are welcome.
            visit = await client.get(f"{ROOMS}{room['slug']}/")
            assert visit.status_code == 200, cookie
            assert visit.json()["is_administrable"] is False


async def test_it_forgets_the_session_at_logout(stack: Stack, alice: Browser) -> None:
    cookie = alice.cookies.get("sessionid")
    assert cookie

    response = await alice.get(API + "logout/")

    assert response.status_code == 302
    assert (await alice.get(API + "users/me/")).status_code == 401
    # The old cookie, replayed, is dead too.
    async with _client(stack, cookie) as replay:
        assert (await replay.get(API + "users/me/")).status_code == 401


async def test_it_keeps_sessions_apart(alice: Browser, bob: Browser) -> None:
    assert (await alice.get(API + "users/me/")).json()["email"] == "alice@example.com"
    assert (await bob.get(API + "users/me/")).json()["email"] == "bob@example.com"
    await bob.get(API + "logout/")
    assert (await alice.get(API + "users/me/")).status_code == 200
