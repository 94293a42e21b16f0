"""Updating a room never depends on LiveKit: not live, or not answering, it still saves."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from antechamber.settings import LiveKitSettings
from tests.conftest import LIVEKIT_KEY, LIVEKIT_SECRET, Browser
from tests.servers import closed_port


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    closed = closed_port()  # nothing listens there
    return {
        "livekit": LiveKitSettings(
            url=f"ws://127.0.0.1:{closed}",
            api_key=LIVEKIT_KEY,
            api_secret=LIVEKIT_SECRET,
            timeout_s=1,
        )
    }


async def test_it_saves_a_change_while_livekit_is_down(
    alice: Browser, caplog: pytest.LogCaptureFixture
) -> None:
    room = (await alice.post("/api/v1.0/rooms/", json={"name": "Offline"})).json()
    caplog.set_level(logging.INFO, logger="antechamber.rooms.live")
    for method, level in ((alice.patch, "trusted"), (alice.put, "restricted")):
        response = await method(
            f"/api/v1.0/rooms/{room['id']}/", json={"name": "Offline", "access_level": level}
        )
        assert response.status_code == 200, response.text
        assert response.json()["access_level"] == level
    again = await alice.get(f"/api/v1.0/rooms/{room['id']}/")
    assert again.json()["access_level"] == "restricted"
    pushes = [r.getMessage() for r in caplog.records if r.name == "antechamber.rooms.live"]
    assert len(pushes) == 2
    assert all("LiveKit is unavailable" in message for message in pushes)
