"""Request-entry's fast route (`http.fast_route`) answers what the FastAPI route answers.

Two apps share one backend: one with the fast route, one without (`fast_routes=False`).
The common case must be served by the fast route itself, and every other request must
reach the declared route (the fallback) and get exactly its answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from antechamber.app import create_app
from antechamber.http.fast_route import JsonPostRoute
from tests.conftest import Backend, Browser, _clean, make_settings, running
from tests.helpers import ROOMS, create_room


class Counted:
    """The fast route's fallback, counting the requests handed back to the router."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        await self.app(scope, receive, send)


@pytest.fixture
async def apps(backend: Backend) -> AsyncIterator[tuple[Browser, Browser, Counted]]:
    """A browser on the app with the fast route and one on the app without it, sharing
    the backend and one lobby cookie (the same participant)."""
    await _clean(backend)
    fast = create_app(make_settings(backend))
    plain = create_app(make_settings(backend), fast_routes=False)
    route = fast.router.routes[0]
    assert isinstance(route, JsonPostRoute)
    assert not any(isinstance(r, JsonPostRoute) for r in plain.router.routes)
    # It stands in front of the declared route, which `url_for` still finds.
    assert fast.url_path_for("request_entry", room_key="k") == plain.url_path_for(
        "request_entry", room_key="k"
    )
    counted = Counted(route.fallback)
    route.fallback = counted
    async with running(fast), running(plain), Browser(fast) as a, Browser(plain) as b:
        yield a, b, counted


async def trusted_room(owner: Browser) -> str:
    await owner.login("alice@example.com")
    room = await create_room(owner, "Trusted", access_level="trusted")
    owner.cookies.clear()
    return f"{ROOMS}{room['slug']}/request-entry/"


async def test_the_poll_is_served_by_the_fast_route_with_the_same_answer(
    apps: tuple[Browser, Browser, Counted],
) -> None:
    fast, plain, counted = apps
    url = await trusted_room(fast)
    first = await fast.post(url, json={"username": "Zoé"})
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "waiting"
    # The same participant on the app without the fast route, then polling on both.
    plain.cookies.set("lobbyParticipantId", fast.cookies["lobbyParticipantId"])
    again = await fast.post(url, json={"username": "Zoé"})
    declared = await plain.post(url, json={"username": "Zoé"})
    assert counted.calls == 0
    assert again.status_code == declared.status_code == 200
    assert again.json() == declared.json() == first.json()
    assert again.headers["content-type"] == declared.headers["content-type"]
    # A newcomer gets a lobby cookie from the fast route too.
    fast.cookies.clear()
    newcomer = await fast.post(url, json={"username": None})
    assert newcomer.status_code == 200
    assert newcomer.json()["id"] != first.json()["id"]
    assert "lobbyParticipantId" in newcomer.cookies
    # A service's refusal goes through the same error handlers.
    missing = f"{ROOMS}no-such-room/request-entry/"
    not_found = [await b.post(missing, json={"username": "Zoé"}) for b in (fast, plain)]
    assert [r.status_code for r in not_found] == [404, 404]
    assert not_found[0].json() == not_found[1].json()
    assert not_found[0].headers["x-request-id"]
    assert counted.calls == 0


JSON = {"content-type": "application/json"}
UNUSUAL: list[tuple[str, dict[str, str], bytes]] = [
    ("a number for a name", JSON, b'{"username": 5}'),
    ("a name too long", JSON, b'{"username": "' + b"x" * 101 + b'"}'),
    ("a control character", JSON, b'{"username": "a\\u0001"}'),
    ("an unknown field", JSON, b'{"name": "Zoe"}'),
    ("a list", JSON, b"[]"),
    ("not JSON", JSON, b"{username"),
    ("too deep", JSON, b"[" * 100_000),
    ("bad UTF-8", JSON, b'{"username": "\xff"}'),
    ("plain text", {"content-type": "text/plain"}, b'{"username": "Zoe"}'),
    ("no content type", {}, b'{"username": "Zoe"}'),
    ("an empty body", JSON, b""),
    ("JSON with a charset", {"content-type": "application/json; charset=utf-8"}, b"{}"),
]


@pytest.mark.parametrize(("case", "headers", "body"), UNUSUAL, ids=[c[0] for c in UNUSUAL])
async def test_anything_unusual_gets_the_declared_routes_answer(
    apps: tuple[Browser, Browser, Counted],
    case: str,
    headers: dict[str, str],
    body: bytes,
) -> None:
    fast, plain, counted = apps
    url = await trusted_room(fast)
    for browser in (fast, plain):
        browser.cookies.set("lobbyParticipantId", "a" * 43)
    answers: list[tuple[int, Any]] = []
    for browser in (fast, plain):
        response = await browser.post(url, content=body, headers=headers)
        answers.append((response.status_code, response.json()))
    assert answers[0] == answers[1], case
    # A charset parameter is still JSON: the fast route serves it.
    expected_fallbacks = 0 if case == "JSON with a charset" else 1
    assert counted.calls == expected_fallbacks, case
    assert answers[0][0] < 500
