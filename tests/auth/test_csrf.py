"""CSRF: cookie-authenticated unsafe requests need the double-submitted token and, when the
browser names one, an allowed origin."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import Browser, Stack
from tests.helpers import ROOMS, create_room


@pytest.fixture
async def forger(stack: Stack, alice: Browser) -> AsyncIterator[httpx.AsyncClient]:
    """A client holding alice's cookies (as her browser would send them to any site's
    form) but not echoing the CSRF token on its own."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.app),
        base_url="http://testserver",
        cookies=alice.cookies,
    ) as client:
        yield client


async def test_it_refuses_a_cross_origin_post_without_the_token(
    forger: httpx.AsyncClient, alice: Browser
) -> None:
    response = await forger.post(
        ROOMS, json={"name": "Forged"}, headers={"Origin": "http://evil.test"}
    )

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert (await alice.get(ROOMS)).json()["count"] == 0


async def test_it_refuses_a_post_without_the_token_even_from_no_origin(
    forger: httpx.AsyncClient, alice: Browser
) -> None:
    response = await forger.post(ROOMS, json={"name": "Forged"})

    assert response.status_code == 403
    assert (await alice.get(ROOMS)).json()["count"] == 0


async def test_it_refuses_a_wrong_token(alice: Browser) -> None:
    response = await alice.post(
        ROOMS, json={"name": "Forged"}, headers={"X-CSRFToken": "not-the-cookie-value"}
    )

    assert response.status_code == 403
    assert (await alice.get(ROOMS)).json()["count"] == 0


async def test_it_refuses_the_right_token_from_a_foreign_origin(alice: Browser) -> None:
    response = await alice.post(ROOMS, json={"name": "x"}, headers={"Origin": "http://evil.test"})

    assert response.status_code == 403
    assert "origin" in response.json()["detail"]


async def test_it_accepts_the_token_from_an_allowed_or_the_same_origin(alice: Browser) -> None:
    for origin in ("http://front.test", "http://testserver", None):
        headers = {"Origin": origin} if origin else {}
        response = await alice.post(ROOMS, json={"name": f"From {origin}"}, headers=headers)
        assert response.status_code == 201, (origin, response.text)


async def test_it_protects_every_unsafe_method(alice: Browser, forger: httpx.AsyncClient) -> None:
    room = await create_room(alice, "Protected")
    url = f"{ROOMS}{room['slug']}/"

    for method in ("PUT", "PATCH", "DELETE"):
        response = await forger.request(
            method, url, json={"name": "Hijacked"}, headers={"Origin": "http://evil.test"}
        )
        assert response.status_code == 403, method
    assert (await alice.get(url)).json()["name"] == "Protected"


async def test_it_gives_every_client_a_readable_csrf_cookie(anonymous: Browser) -> None:
    response = await anonymous.get("/api/v1.0/config/")

    header = next(v for k, v in response.headers.multi_items() if v.startswith("csrftoken="))
    assert "HttpOnly" not in header
    assert "SameSite=Lax" in header
    token = anonymous.cookies.get("csrftoken")
    assert token
    assert len(token) >= 32
    # Once it has one, it keeps it.
    await anonymous.get("/api/v1.0/config/")
    assert anonymous.cookies.get("csrftoken") == token
