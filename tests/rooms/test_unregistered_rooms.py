"""Unknown slugs: 404 by default; with unregistered rooms allowed, a public room without a
database row that anyone joins."""

from __future__ import annotations

import pytest

from tests.conftest import Browser
from tests.helpers import ROOMS, create_room
from tests.livekit_helpers import verify


async def test_it_answers_404_for_an_unknown_slug_by_default(
    alice: Browser, anonymous: Browser
) -> None:
    for browser in (alice, anonymous):
        response = await browser.get(f"{ROOMS}never-created/")
        assert response.status_code == 404
        assert response.json() == {"detail": "No such room."}


@pytest.mark.parametrize("settings_overrides", [{"allow_unregistered_rooms": True}])
async def test_it_serves_an_unregistered_room_when_allowed(
    anonymous: Browser, alice: Browser
) -> None:
    for browser in (anonymous, alice):
        response = await browser.get(f"{ROOMS}Never-Created/?username=Zoe")

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id"] is None
        assert body["slug"] == body["name"] == "never-created"
        assert body["access_level"] == "public"
        assert body["is_administrable"] is False
        assert body["livekit"]["room"] == "never-created"
        claims = verify(body["livekit"]["token"])
        assert claims.video is not None
        assert claims.video.room == "never-created"
        assert claims.video.room_join is True
        assert not claims.video.room_admin
        assert claims.name == "Zoe"
        assert claims.attributes is not None
        assert claims.attributes["room_role"] == ""


@pytest.mark.parametrize("settings_overrides", [{"allow_unregistered_rooms": True}])
async def test_it_still_serves_registered_rooms_and_refuses_non_slugs(
    alice: Browser, anonymous: Browser
) -> None:
    room = await create_room(alice, "Registered", access_level="restricted")

    registered = (await anonymous.get(f"{ROOMS}registered/")).json()
    not_a_slug = await anonymous.get(f"{ROOMS}not%20a%20slug!/")

    assert registered["id"] == room["id"]
    assert registered["livekit"] is None  # its own access level still applies
    assert not_a_slug.status_code == 404
    # Nothing to administer: writes still need a registered room.
    assert (await alice.patch(f"{ROOMS}never-created/", json={"name": "x"})).status_code == 404
