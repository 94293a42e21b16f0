"""Steps the moderation tests share against the real LiveKit server."""

from __future__ import annotations

from typing import Any

from tests.helpers import ROOMS
from tests.http_server import HttpBrowser

__all__ = ["ROOMS", "act", "token"]


async def token(browser: HttpBrowser, room_id: str) -> str:
    response = await browser.get(f"{ROOMS}{room_id}/")
    assert response.status_code == 200, response.text
    assert response.json()["livekit"] is not None, "this caller can't join directly"
    value: str = response.json()["livekit"]["token"]
    return value


async def act(browser: HttpBrowser, room_id: str, action: str, **body: Any) -> Any:
    return await browser.post(f"{ROOMS}{room_id}/{action}/", json=body)
