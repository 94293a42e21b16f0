"""Small steps many tests share, written as the front end would take them."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from antechamber.settings import LiveKitSettings
from tests.conftest import LIVEKIT_KEY, LIVEKIT_SECRET, Browser
from tests.servers import closed_port

API = "/api/v1.0/"
ROOMS = API + "rooms/"
ACCESSES = API + "resource-accesses/"


def livekit_down(timeout_s: float = 0.5) -> dict[str, Any]:
    """Settings overrides pointing at a LiveKit nothing listens for: a request that gets
    past the rules fails with 503."""
    return {
        "livekit": LiveKitSettings(
            url=f"ws://127.0.0.1:{closed_port()}",
            api_key=LIVEKIT_KEY,
            api_secret=LIVEKIT_SECRET,
            timeout_s=timeout_s,
        )
    }


async def me(browser: Browser) -> dict[str, Any]:
    response = await browser.get(API + "users/me/")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def create_room(browser: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    response = await browser.post(ROOMS, json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def grant(owner: Browser, room_id: str, user_id: str, role: str) -> dict[str, Any]:
    response = await owner.post(ACCESSES, json={"resource": room_id, "user": user_id, "role": role})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def jwt_payload(token: str) -> dict[str, Any]:
    """The raw claims as LiveKit's server reads them (the signature is checked elsewhere)."""
    payload = token.split(".")[1]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return json.loads(decoded)  # type: ignore[no-any-return]
