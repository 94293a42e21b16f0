"""A poll of request-entry is one Redis round trip: one script reads the ban, the place,
and refreshes it (no separate ban read, no database query for an anonymous caller)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from sqlalchemy import event

from tests.conftest import Backend, Browser, Stack
from tests.helpers import ROOMS, create_room

POLLS = 20


@pytest.fixture
def backend(postgres_backend: Backend) -> Backend:
    """Redis and PostgreSQL, as in production."""
    return postgres_backend


@pytest.fixture
async def redis(stack: Stack) -> AsyncIterator[Redis]:
    assert stack.backend.redis_url is not None
    client = Redis.from_url(stack.backend.redis_url)
    yield client
    await client.aclose()


async def client_commands(redis: Redis) -> dict[str, int]:
    stats = await redis.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


async def test_it_polls_with_one_script_call_and_no_database_query(
    stack: Stack, alice: Browser, anonymous: Browser, redis: Redis
) -> None:
    room = await create_room(alice, "One trip", access_level="trusted")
    entry = f"{ROOMS}{room['slug']}/request-entry/"
    assert (await anonymous.post(entry, json={"username": "Ann"})).json()["status"] == "waiting"
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(stack.app.state.services.engine.sync_engine, "before_cursor_execute", seen)
    await redis.config_resetstat()
    for _ in range(POLLS):
        answer = await anonymous.post(entry, json={"username": "Ann"})
        assert answer.json()["status"] == "waiting"
    calls = await client_commands(redis)
    # Commands a script runs are counted too (its EXISTS, HGET, ZADD...), but a client's
    # own reads would show as more EVALSHA calls or as GET/MGET (how bans were read).
    assert calls.get("evalsha") == POLLS, calls
    assert "get" not in calls, calls
    assert "mget" not in calls, calls
    assert statements == []
