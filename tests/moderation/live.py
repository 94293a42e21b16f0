"""Steps the moderation tests share against the real LiveKit server."""

from __future__ import annotations

from typing import Any

from tests.http_server import HttpBrowser

ROOMS = "/api/v1.0/rooms/"


async def new_room(owner: HttpBrowser, name: str, **fields: Any) -> dict[str, Any]:
    created = await owner.post(ROOMS, json={"name": name, **fields})
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


async def token(browser: HttpBrowser, room_id: str) -> str:
    response = await browser.get(f"{ROOMS}{room_id}/")
    assert response.status_code == 200, response.text
    assert response.json()["livekit"] is not None, "this caller can't join directly"
    value: str = response.json()["livekit"]["token"]
    return value


async def act(browser: HttpBrowser, room_id: str, action: str, **body: Any) -> Any:
    return await browser.post(f"{ROOMS}{room_id}/{action}/", json=body)
