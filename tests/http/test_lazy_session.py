"""A request opens nothing in the database it doesn't use.

The request's session is lazy: a poll of an existing place (Redis and the room cache)
and an anonymous GET of a cached room begin no transaction, check out no connection and
run no statement. Counted with SQLAlchemy's own events on the real PostgreSQL stack;
the same probes count the database work of a request that does need it, so they can
see it when it happens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from tests.conftest import Backend, Browser, Stack
from tests.helpers import ROOMS, create_room

POLLS = 20


@pytest.fixture
def backend(postgres_backend: Backend) -> Backend:
    """PostgreSQL and Redis only: the stack a poll runs on in production."""
    return postgres_backend


@dataclass
class DatabaseWork:
    transactions: int = 0
    checkouts: int = 0
    statements: int = 0

    def __bool__(self) -> bool:
        return bool(self.transactions or self.checkouts or self.statements)


@pytest.fixture
def database_work(stack: Stack) -> Iterator[DatabaseWork]:
    """Counts, from now on, session transactions begun (even without a connection),
    pool checkouts and statements sent, across every session of the app."""
    engine = stack.app.state.services.engine.sync_engine
    work = DatabaseWork()

    def transaction_created(*_: Any) -> None:
        work.transactions += 1

    def checkout(*_: Any) -> None:
        work.checkouts += 1

    def statement(*_: Any) -> None:
        work.statements += 1

    listeners: list[tuple[Any, str, Any]] = [
        (Session, "after_transaction_create", transaction_created),
        (engine.pool, "checkout", checkout),
        (engine, "before_cursor_execute", statement),
    ]
    for target, name, function in listeners:
        event.listen(target, name, function)
    try:
        yield work
    finally:
        for target, name, function in listeners:
            event.remove(target, name, function)


def _counted(work: DatabaseWork) -> DatabaseWork:
    """What was counted so far, and the counters back to zero."""
    seen = DatabaseWork(work.transactions, work.checkouts, work.statements)
    work.transactions = work.checkouts = work.statements = 0
    return seen


async def test_it_polls_an_existing_place_without_touching_the_database(
    alice: Browser, anonymous: Browser, database_work: DatabaseWork
) -> None:
    room = await create_room(alice, "Trusted", access_level="trusted")
    entry = f"{ROOMS}{room['slug']}/request-entry/"
    first = await anonymous.post(entry, json={"username": "Zoé"})
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "waiting"
    _counted(database_work)  # the room's creation and the first, caching read

    for _ in range(POLLS):
        poll = await anonymous.post(entry, json={"username": "Zoé"})
        assert poll.status_code == 200, poll.text
        assert poll.json()["id"] == first.json()["id"]
        assert poll.json()["status"] == "waiting"
    assert _counted(database_work) == DatabaseWork()

    # The probes see database work when there is some: the owner's waiting list checks
    # her role in PostgreSQL.
    listed = await alice.get(f"{ROOMS}{room['id']}/waiting-participants/")
    assert listed.status_code == 200, listed.text
    assert [p["id"] for p in listed.json()["participants"]] == [first.json()["id"]]
    seen = _counted(database_work)
    assert seen.transactions >= 1
    assert seen.checkouts >= 1
    assert seen.statements >= 1


async def test_it_answers_a_cached_room_without_touching_the_database(
    alice: Browser, anonymous: Browser, database_work: DatabaseWork
) -> None:
    room = await create_room(alice, "Open house")
    url = f"{ROOMS}{room['slug']}/"
    first = await anonymous.get(url)
    assert first.status_code == 200, first.text
    _counted(database_work)  # the cache's first fill

    for _ in range(POLLS):
        response = await anonymous.get(url)
        assert response.status_code == 200, response.text
        assert response.json()["id"] == room["id"]
        assert response.json()["livekit"]["token"]
    assert _counted(database_work) == DatabaseWork()


async def test_it_still_commits_a_write_before_answering(
    alice: Browser, database_work: DatabaseWork, stack: Stack
) -> None:
    """The lazy session keeps the rule for writes: used, it is committed before the
    answer (the room is in the database, seen by another connection, when the 201
    arrives)."""
    created = await create_room(alice, "Written")
    seen = _counted(database_work)
    assert seen.transactions >= 1
    assert seen.statements >= 1
    sessionmaker = stack.app.state.services.sessionmaker
    async with sessionmaker() as other:
        found = await other.execute(
            text("SELECT name FROM rooms WHERE id = :id"), {"id": created["id"]}
        )
        assert found.scalar_one() == "Written"


async def test_an_admins_poll_of_the_waiting_list_is_one_statement_then_none(
    alice: Browser, anonymous: Browser, database_work: DatabaseWork, stack: Stack
) -> None:
    """The login session names the user; her existence and her role come in one query
    (the room from the cache), outside any transaction (no BEGIN and COMMIT round
    trips: the connection runs it in autocommit). Her yes is then kept by the process
    until the room's accesses change (tests/rooms/test_admin_cache.py): her next polls
    touch no database."""
    isolation: list[str] = []

    def statement(connection: Any, *_: Any) -> None:
        isolation.append(connection.get_execution_options().get("isolation_level", "default"))

    engine = stack.app.state.services.engine.sync_engine
    room = await create_room(alice, "Trusted", access_level="trusted")
    waiting = await anonymous.post(f"{ROOMS}{room['slug']}/request-entry/", json={})
    assert waiting.status_code == 200, waiting.text  # and the room is in the cache
    url = f"{ROOMS}{room['slug']}/waiting-participants/"
    _counted(database_work)

    event.listen(engine, "before_cursor_execute", statement)
    try:
        first = await alice.get(url)
        assert first.status_code == 200, first.text
        assert _counted(database_work).statements == 1
        assert isolation == ["AUTOCOMMIT"]
        for _ in range(POLLS):
            listed = await alice.get(url)
            assert listed.status_code == 200, listed.text
            assert [p["id"] for p in listed.json()["participants"]] == [waiting.json()["id"]]
    finally:
        event.remove(engine, "before_cursor_execute", statement)
    assert _counted(database_work) == DatabaseWork()
    assert isolation == ["AUTOCOMMIT"]


async def test_a_session_whose_user_is_gone_may_not_see_the_waiting_list(
    alice: Browser, bob: Browser, stack: Stack
) -> None:
    room = await create_room(alice, "Trusted", access_level="trusted")
    url = f"{ROOMS}{room['slug']}/waiting-participants/"
    assert (await bob.get(url)).status_code == 403  # logged in, not an admin
    async with stack.app.state.services.sessionmaker() as db:
        await db.execute(text("DELETE FROM users WHERE email = 'bob@example.com'"))
        await db.commit()

    refused = await bob.get(url)

    assert refused.status_code == 401, refused.text
    assert refused.json() == {"detail": "Log in to administer this room."}


async def _uncached(stack: Stack, room: dict[str, Any]) -> str:
    """The room's GET path, with its cached entry dropped as a change would drop it."""
    stack.app.state.services.room_cache.invalidate(room["id"])
    return f"{ROOMS}{room['slug']}/"


async def test_requests_that_miss_the_cache_together_share_one_query(
    alice: Browser, anonymous: Browser, database_work: DatabaseWork, stack: Stack
) -> None:
    room = await create_room(alice, "Open house")
    url = await _uncached(stack, room)
    _counted(database_work)

    answers = await asyncio.gather(*(anonymous.get(url) for _ in range(POLLS)))

    assert [a.status_code for a in answers] == [200] * POLLS
    assert {a.json()["id"] for a in answers} == {room["id"]}
    assert _counted(database_work).statements == 1


async def test_a_shared_lookup_cancelled_leaves_its_waiters_to_look_themselves(
    alice: Browser, anonymous: Browser, stack: Stack
) -> None:
    room = await create_room(alice, "Open house")
    url = await _uncached(stack, room)
    loading = stack.app.state.services.room_cache.loading

    # Another transaction locks the rooms table: the first lookup waits in PostgreSQL until
    # the test lets it go, however fast the machine answers (a few loop turns were not
    # always enough to catch it in flight).
    async with stack.app.state.services.engine.connect() as locker:
        await locker.execute(text("LOCK TABLE rooms IN ACCESS EXCLUSIVE MODE"))
        first = asyncio.create_task(anonymous.get(url))
        for _ in range(1000):
            if room["slug"] in loading:
                break
            await asyncio.sleep(0)
        assert room["slug"] in loading, "the first request never started its lookup"
        second = asyncio.create_task(anonymous.get(url))
        for _ in range(20):  # the second reaches the shared lookup and waits for it
            await asyncio.sleep(0)
        assert not first.done()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        await locker.rollback()

    answer = await second
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == room["id"]
