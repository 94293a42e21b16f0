"""An admin's poll of the waiting list trusts the process' cached "she administers this
room" only until the room's accesses change, on any process.

Bob is an administrator of Alice's room; he polls the waiting list on process B, which
caches his role (on a clock that stands still here, so only the message on
`rooms:changed` can drop it).
Alice then takes his rights away on process A, each way the service offers; bob's very
next poll on B is refused. Both processes share PostgreSQL and Redis, as served ones do.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from sqlalchemy import event, text

from antechamber.app import create_app
from antechamber.rooms.cache import ADMIN_TTL_S, ROOMS_CHANNEL, RoomCache
from antechamber.rooms.models import Role
from tests.conftest import Backend, Browser, Stack, make_settings, running
from tests.helpers import ACCESSES, ROOMS, create_room, grant, me


@pytest.fixture
def backend(postgres_backend: Backend) -> Backend:
    """Two processes share PostgreSQL and Redis: the memory stack has one process only."""
    return postgres_backend


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Other:
    """Process B, with bob's login session (the same cookie works on every process)."""

    app: FastAPI
    bob: Browser
    cache: RoomCache
    clock: Clock


@pytest.fixture
async def other(stack: Stack, bob: Browser) -> AsyncIterator[Other]:
    app = create_app(make_settings(stack.backend))
    async with running(app), Browser(app) as bob_there:
        services = app.state.services
        # Its room cache on a clock of the test's: nothing lapses unless the test says so.
        clock = Clock()
        cache = RoomCache(clock=clock)
        services.room_cache = cache
        services.broker.listen(ROOMS_CHANNEL, cache.invalidate)
        bob_there.cookies.update(bob.cookies)
        yield Other(app, bob_there, cache, clock)


@dataclass
class Scene:
    room: dict[str, str]
    access: dict[str, str]
    bob_id: uuid.UUID
    url: str


@pytest.fixture
async def scene(alice: Browser, bob: Browser, other: Other) -> Scene:
    """Bob administers Alice's room, and process B has cached it from his first poll."""
    room = await create_room(alice, "Trusted", access_level="trusted")
    bob_id = (await me(bob))["id"]
    access = await grant(alice, room["id"], bob_id, "administrator")
    url = f"{ROOMS}{room['slug']}/waiting-participants/"
    first = await other.bob.get(url)
    assert first.status_code == 200, first.text
    assert other.cache.admin_role(uuid.UUID(room["id"]), uuid.UUID(bob_id)) is Role.ADMINISTRATOR
    return Scene(room, access, uuid.UUID(bob_id), url)


async def test_it_answers_a_cached_admin_without_the_database(other: Other, scene: Scene) -> None:
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    engine = other.app.state.services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        for _ in range(5):
            listed = await other.bob.get(scene.url)
            assert listed.status_code == 200, listed.text
            assert listed.json() == {"participants": []}
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert statements == []


async def test_a_demoted_administrator_is_refused_at_once_on_another_process(
    alice: Browser, other: Other, scene: Scene
) -> None:
    demoted = await alice.patch(f"{ACCESSES}{scene.access['id']}/", json={"role": "member"})
    assert demoted.status_code == 200, demoted.text

    refused = await other.bob.get(scene.url)

    assert refused.status_code == 403, refused.text
    assert refused.json() == {"detail": "Only the room's owners and administrators may do this."}


async def test_a_removed_access_is_refused_at_once_on_another_process(
    alice: Browser, other: Other, scene: Scene
) -> None:
    removed = await alice.delete(f"{ACCESSES}{scene.access['id']}/")
    assert removed.status_code == 204, removed.text

    refused = await other.bob.get(scene.url)

    assert refused.status_code == 403, refused.text


async def test_a_role_lowered_by_moderation_is_refused_at_once_on_another_process(
    stack: Stack, alice: Browser, other: Other, scene: Scene
) -> None:
    async with stack.app.state.services.sessionmaker() as db:
        found = await db.execute(text("SELECT sub FROM users WHERE id = :id"), {"id": scene.bob_id})
        bob_sub = found.scalar_one()
    demoted = await alice.post(
        f"{ROOMS}{scene.room['id']}/update-participant-role/",
        json={"participant_identity": bob_sub, "role": "member"},
    )
    assert demoted.status_code == 200, demoted.text

    refused = await other.bob.get(scene.url)

    assert refused.status_code == 403, refused.text


async def test_a_deleted_room_is_not_found_at_once_on_another_process(
    alice: Browser, other: Other, scene: Scene
) -> None:
    deleted = await alice.delete(f"{ROOMS}{scene.room['id']}/")
    assert deleted.status_code == 204, deleted.text

    gone = await other.bob.get(scene.url)

    assert gone.status_code == 404, gone.text


async def test_a_user_deleted_outside_the_service_is_refused_once_the_cache_lapses(
    stack: Stack, other: Other, scene: Scene
) -> None:
    """The service never deletes a user: one deleted in SQL sends no message, so what
    bounds his rights is the cached yes's life (`ADMIN_TTL_S` in production)."""
    async with stack.app.state.services.sessionmaker() as db:
        await db.execute(text("DELETE FROM users WHERE id = :id"), {"id": scene.bob_id})
        await db.commit()
    assert (await other.bob.get(scene.url)).status_code == 200  # still the cached yes

    other.clock.now += ADMIN_TTL_S + 0.001
    refused = await other.bob.get(scene.url)

    assert refused.status_code == 401, refused.text
    assert refused.json() == {"detail": "Log in to administer this room."}


async def test_a_promoted_member_is_let_in_at_once(alice: Browser, other: Other) -> None:
    """Only yes answers are cached: a refusal is not remembered past its request."""
    room = await create_room(alice, "Trusted", access_level="trusted")
    url = f"{ROOMS}{room['slug']}/waiting-participants/"
    assert (await other.bob.get(url)).status_code == 403
    await grant(alice, room["id"], (await me(other.bob))["id"], "administrator")

    assert (await other.bob.get(url)).status_code == 200


def test_an_answer_read_before_a_change_is_not_kept() -> None:
    """A query that began before a message (which may be this very role's removal,
    committed after the query read it) doesn't fill the cache with its answer."""
    cache = RoomCache()
    room_id, user_id = uuid.uuid4(), uuid.uuid4()
    before = cache.generation
    cache.invalidate(str(room_id))
    cache.put_admin(room_id, user_id, Role.OWNER, before)
    assert cache.admin_role(room_id, user_id) is None

    cache.put_admin(room_id, user_id, Role.OWNER, cache.generation)
    assert cache.admin_role(room_id, user_id) is Role.OWNER
    cache.invalidate(f"+{room_id}")  # another room's creation drops nothing
    assert cache.admin_role(room_id, user_id) is Role.OWNER
    cache.invalidate(str(uuid.uuid4()))  # nor another room's change
    assert cache.admin_role(room_id, user_id) is Role.OWNER
    cache.invalidate(str(room_id))
    assert cache.admin_role(room_id, user_id) is None
