"""Updating a room never depends on LiveKit: not live, or not answering, it still saves."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.conftest import Browser
from tests.helpers import livekit_down


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return livekit_down(timeout_s=1)


async def test_it_saves_a_change_while_livekit_is_down(
    alice: Browser, caplog: pytest.LogCaptureFixture
) -> None:
    room = (await alice.post("/api/v1.0/rooms/", json={"name": "Offline"})).json()
    caplog.set_level(logging.INFO, logger="antechamber.rooms.livekit_metadata")
    for method, level in ((alice.patch, "trusted"), (alice.put, "restricted")):
        response = await method(
            f"/api/v1.0/rooms/{room['id']}/", json={"name": "Offline", "access_level": level}
        )
        assert response.status_code == 200, response.text
        assert response.json()["access_level"] == level
    again = await alice.get(f"/api/v1.0/rooms/{room['id']}/")
    assert again.json()["access_level"] == "restricted"
    pushes = [
        r.getMessage() for r in caplog.records if r.name == "antechamber.rooms.livekit_metadata"
    ]
    assert len(pushes) == 2
    assert all("LiveKit is unavailable" in message for message in pushes)
