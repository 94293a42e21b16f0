"""The development login exists only when enabled."""

from __future__ import annotations

import pytest

from tests.conftest import Browser
from tests.helpers import API


async def test_it_logs_in_and_creates_the_user(anonymous: Browser) -> None:
    first = await anonymous.post(API + "dev-login/", json={"email": "Dora@Example.com"})

    assert first.status_code == 200
    assert first.json()["email"] == "dora@example.com"
    assert (await anonymous.get(API + "users/me/")).json()["id"] == first.json()["id"]
    again = await anonymous.post(API + "dev-login/", json={"email": "dora@example.com"})
    assert again.json()["id"] == first.json()["id"]


async def test_it_refuses_bad_emails(anonymous: Browser) -> None:
    for body in ({"email": "not-an-email"}, {"email": "a@b.c", "admin": True}, {}):
        response = await anonymous.post(API + "dev-login/", json=body)
        assert response.status_code == 400, body


@pytest.mark.parametrize("settings_overrides", [{"dev_login_enabled": False}])
async def test_it_is_404_when_disabled(anonymous: Browser) -> None:
    response = await anonymous.post(API + "dev-login/", json={"email": "eve@example.com"})

    assert response.status_code == 404
    assert "sessionid" not in anonymous.cookies
    assert (await anonymous.get(API + "users/me/")).status_code == 401
