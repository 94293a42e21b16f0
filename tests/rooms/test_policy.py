"""The operator's policy: access levels offered, the default one, anonymous people, and
unregistered rooms; refused with a clear 4xx, and announced in config/."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import update

from antechamber.container import Services
from antechamber.rooms.models import AccessLevel, Room
from antechamber.settings import ConfigurationError, Settings
from tests.conftest import Browser, Stack
from tests.helpers import ROOMS, create_room

NO_PUBLIC = {"access_levels": ["trusted", "restricted"], "default_access_level": "trusted"}
NO_ANONYMOUS = {"allow_anonymous": False, "allow_unregistered_rooms": True}


@pytest.mark.parametrize("settings_overrides", [NO_PUBLIC])
async def test_it_refuses_access_levels_the_service_doesnt_offer(
    alice: Browser, anonymous: Browser
) -> None:
    refused = await alice.post(ROOMS, json={"name": "Open", "access_level": "public"})
    assert refused.status_code == 400
    assert refused.json() == {
        "access_level": [
            "This service doesn't offer public rooms; use one of: trusted, restricted."
        ]
    }
    room = await create_room(alice, "Default")
    assert room["access_level"] == "trusted"
    changed = await alice.patch(f"{ROOMS}{room['id']}/", json={"access_level": "public"})
    assert changed.status_code == 400
    assert "access_level" in changed.json()
    assert (await alice.get(f"{ROOMS}{room['id']}/")).json()["access_level"] == "trusted"
    config = (await anonymous.get("/api/v1.0/config/")).json()
    assert config["policy"] == {
        "access_levels": ["trusted", "restricted"],
        "default_access_level": "trusted",
        "allow_anonymous": True,
        "allow_unregistered_rooms": False,
    }
    assert config["resource"]["default_access_level"] == "trusted"


@pytest.mark.parametrize("settings_overrides", [NO_PUBLIC])
async def test_a_room_made_public_before_the_policy_behaves_as_trusted(
    stack: Stack, alice: Browser, anonymous: Browser
) -> None:
    room = await create_room(alice, "Old and open")
    services: Services = stack.app.state.services
    async with services.sessionmaker() as db:
        await db.execute(
            update(Room)
            .where(Room.id == uuid.UUID(room["id"]))
            .values(access_level=AccessLevel.PUBLIC)
        )
        await db.commit()
    got = await anonymous.get(f"{ROOMS}{room['id']}/")
    assert got.status_code == 200
    assert got.json()["livekit"] is None
    entry = await anonymous.post(f"{ROOMS}{room['id']}/request-entry/", json={"username": "Z"})
    assert entry.json()["status"] == "waiting"
    # Its lobby works as a trusted room's does.
    admitted = await alice.post(
        f"{ROOMS}{room['id']}/enter/",
        json={"participant_id": entry.json()["id"], "allow_entry": True},
    )
    assert admitted.status_code == 200, admitted.text


@pytest.mark.parametrize("settings_overrides", [NO_ANONYMOUS])
async def test_it_never_lets_anonymous_people_in_when_the_policy_says_so(
    alice: Browser, bob: Browser, anonymous: Browser
) -> None:
    room = await create_room(alice, "Members only", access_level="public")
    got = await anonymous.get(f"{ROOMS}{room['id']}/")
    assert got.status_code == 200
    assert got.json()["livekit"] is None
    entry = await anonymous.post(f"{ROOMS}{room['id']}/request-entry/", json={"username": "Z"})
    assert entry.status_code == 401
    assert entry.json() == {
        "detail": "This service admits only logged-in participants: log in to join."
    }
    unregistered = await anonymous.get(f"{ROOMS}no-such-room/")
    assert unregistered.status_code == 200
    assert unregistered.json()["livekit"] is None
    assert (await bob.get(f"{ROOMS}{room['id']}/")).json()["livekit"] is not None
    assert (await bob.get(f"{ROOMS}no-such-room/")).json()["livekit"] is not None
    config = (await anonymous.get("/api/v1.0/config/")).json()
    assert config["policy"]["allow_anonymous"] is False
    assert config["policy"]["allow_unregistered_rooms"] is True


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"access_levels": ["trusted"]}, "ANTECHAMBER_DEFAULT_ACCESS_LEVEL"),
        (
            {
                "access_levels": ["trusted"],
                "default_access_level": "trusted",
                "allow_unregistered_rooms": True,
            },
            "ANTECHAMBER_ALLOW_UNREGISTERED_ROOMS",
        ),
    ],
)
def test_it_refuses_a_policy_that_contradicts_itself(
    values: dict[str, object], reason: str
) -> None:
    with pytest.raises(ConfigurationError, match=reason):
        Settings(**values)  # type: ignore[arg-type]


@pytest.mark.usefixtures("clean_env")
def test_it_reads_the_policy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTECHAMBER_ACCESS_LEVELS", "restricted, trusted")
    monkeypatch.setenv("ANTECHAMBER_DEFAULT_ACCESS_LEVEL", "restricted")
    monkeypatch.setenv("ANTECHAMBER_ALLOW_ANONYMOUS", "false")
    settings = Settings()
    assert settings.access_levels == ["trusted", "restricted"]
    assert settings.allow_anonymous is False
    monkeypatch.setenv("ANTECHAMBER_ACCESS_LEVELS", "public,secret")
    with pytest.raises(ValueError, match="access levels"):
        Settings()
