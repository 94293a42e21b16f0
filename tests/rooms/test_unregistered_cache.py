"""Unregistered rooms are cached like registered ones: a slug found to name no room is
served without a database query, until a room with that slug is created (on any process)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import event

from antechamber.app import create_app
from antechamber.container import Services
from antechamber.rooms.cache import RoomCache, RoomSnapshot, created_message
from antechamber.rooms.models import AccessLevel
from antechamber.rooms.schemas import RoomConfiguration
from tests.conftest import Backend, Browser, Stack, make_settings, running
from tests.helpers import ROOMS, create_room

ALLOWED: dict[str, Any] = {"allow_unregistered_rooms": True}


@pytest.fixture
def backend(postgres_backend: Backend) -> Backend:
    """Two processes share PostgreSQL and Redis: the memory stack has one process only."""
    return postgres_backend


def count_queries(services: Services) -> list[str]:
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(services.engine.sync_engine, "before_cursor_execute", seen)
    return statements


@pytest.mark.parametrize("settings_overrides", [ALLOWED])
async def test_it_serves_an_unregistered_room_again_without_the_database(
    stack: Stack, anonymous: Browser
) -> None:
    first = await anonymous.get(f"{ROOMS}not-yet-a-room/")
    assert first.status_code == 200
    assert first.json()["id"] is None
    queries = count_queries(stack.app.state.services)
    for _ in range(3):
        again = await anonymous.get(f"{ROOMS}Not-Yet-A-Room/")
        assert again.status_code == 200
        assert again.json()["livekit"]["room"] == "not-yet-a-room"
    assert queries == []


@pytest.mark.parametrize("settings_overrides", [ALLOWED])
async def test_it_drops_the_cached_miss_on_every_process_when_the_room_is_created(
    stack: Stack, alice: Browser
) -> None:
    other = create_app(make_settings(stack.backend, **ALLOWED))
    async with running(other), Browser(other) as guest:
        # Only the message can refresh it: the other process would keep its miss an hour.
        other.state.services.room_cache._ttl_s = 3600
        stack.app.state.services.room_cache._ttl_s = 3600
        for browser in (guest, alice):
            before = await browser.get(f"{ROOMS}team-sync/")
            assert before.json()["id"] is None
        room = await create_room(alice, "Team Sync", access_level="public")
        assert room["slug"] == "team-sync"
        # The creating process at once: its next request may be the creator's own.
        mine = await alice.get(f"{ROOMS}team-sync/")
        assert mine.json()["id"] == room["id"]
        seen = None
        for _ in range(100):
            seen = (await guest.get(f"{ROOMS}team-sync/")).json()["id"]
            if seen is not None:
                break
            await asyncio.sleep(0.05)
        assert seen == room["id"]


def test_it_keeps_no_miss_read_before_a_drop() -> None:
    cache = RoomCache()
    generation = cache.generation  # a lookup starts, reads the database...
    cache.invalidate(created_message("late-room"))  # ...meanwhile the room is created
    cache.put_missing("late-room", generation)
    assert not cache.is_missing("late-room")
    cache.put_missing("late-room", cache.generation)
    assert cache.is_missing("late-room")
    assert cache.get("late-room") is None
    cache.invalidate(created_message("LATE-ROOM"))
    assert not cache.is_missing("late-room")


def test_it_keeps_cached_rooms_when_another_room_is_created() -> None:
    cache = RoomCache()
    room = RoomSnapshot(uuid.uuid4(), "kept", "Kept", AccessLevel.PUBLIC, RoomConfiguration())
    cache.put("kept", room)
    cache.invalidate(created_message("kept"))  # the creation of its own slug, echoed back
    cache.invalidate(created_message(str(room.id)))
    assert cache.get("kept") is room
    cache.invalidate(str(room.id))  # a change of the room drops it
    assert cache.get("kept") is None
