"""An acknowledged write is durable: its transaction commits before the answer starts.

Over real HTTP against `antechamber serve` on PostgreSQL: in-process transports wait for
the whole app, so they could never show a client reading its 201 before the commit.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from antechamber.db.session import create_engine
from antechamber.settings import DatabaseSettings
from tests.conftest import Backend, Browser, Stack, clean_backend
from tests.helpers import ACCESSES, API, ROOMS
from tests.servers import ServeProcess, serve_env, serving
from tests.visitors import Visitor

CYCLES = 1000


@pytest.fixture(scope="module")
def served(
    postgres_backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    clean_backend(postgres_backend)
    env = serve_env(postgres_backend.database_url, postgres_backend.redis_url)
    with serving(env, tmp_path_factory.mktemp("served"), workers=2) as (server,):
        yield server


async def test_every_write_is_readable_as_soon_as_it_is_acknowledged(
    served: ServeProcess, http: httpx.AsyncClient
) -> None:
    owner = Visitor(http, served.url)
    await owner.login("owner@example.com")
    member = Visitor(http, served.url)
    member_id = (await member.login("member@example.com"))["id"]
    misses: list[tuple[str, int, str]] = []
    kinds = itertools.cycle(("room", "access", "login"))
    for n, kind in zip(range(CYCLES), kinds, strict=False):
        if kind == "room":
            created = await owner.request("POST", ROOMS, {"name": f"Room {n}"})
            assert created.status_code == 201, created.text
            read = await owner.request("GET", f"{ROOMS}{created.json()['id']}/")
        elif kind == "access":
            room = await owner.request("POST", ROOMS, {"name": f"Shared {n}"})
            assert room.status_code == 201, room.text
            body = {"resource": room.json()["id"], "user": member_id, "role": "member"}
            created = await owner.request("POST", ACCESSES, body)
            assert created.status_code == 201, created.text
            read = await owner.request("GET", f"{ACCESSES}{created.json()['id']}/")
        else:
            visitor = Visitor(http, served.url)
            await visitor.login(f"user{n}@example.com")
            read = await visitor.request("GET", API + "users/me/")
        if read.status_code != 200:
            misses.append((kind, read.status_code, read.text))
    assert misses == []


FAIL_AT_COMMIT = [
    """CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'forced by the test' USING ERRCODE = '40001'; END $$""",
    """CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT ON rooms
       DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit()""",
]
UNDO = [
    "DROP TRIGGER IF EXISTS fail_at_commit ON rooms",
    "DROP FUNCTION IF EXISTS fail_at_commit()",
]


async def _run(backend: Backend, statements: list[str]) -> None:
    engine = create_engine(DatabaseSettings(url=backend.database_url))
    async with engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))
    await engine.dispose()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_failed_commit_answers_an_error_and_acknowledges_nothing(
    stack: Stack, alice: Browser
) -> None:
    await _run(stack.backend, FAIL_AT_COMMIT)
    try:
        response = await alice.post(ROOMS, json={"name": "Never stored"})
    finally:
        await _run(stack.backend, UNDO)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"]
    listed: dict[str, Any] = (await alice.get(ROOMS)).json()
    assert listed["count"] == 0
