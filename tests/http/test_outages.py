"""Outages of Redis and PostgreSQL, on instances these tests own and restart under load.

While a server is down the service answers 503 (with Retry-After), never 500; once it is
back, broken pooled connections are replaced without a single error; with Redis
persisting, no place, admission or session is lost across its restart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from antechamber.db.migrate import upgrade
from tests.conftest import Backend, clean_backend
from tests.helpers import API, ROOMS
from tests.servers import (
    PostgresServer,
    RedisServer,
    ServeProcess,
    closed_port,
    owned,
    serve_env,
    serving,
    start_postgres,
    start_redis,
)
from tests.visitors import Visitor

POLLERS = 50
POLL_EVERY_S = 0.2
DOWN_S = 3.0
# Requests sent this long after the server answers again must all succeed: time for one
# failed attempt to be retried on a new connection, on a loaded machine.
RECOVERY_S = 5.0


@dataclass
class Outcome:
    started: float
    finished: float
    status: int
    error: str = ""  # with status 0: what the client saw instead of an answer


@dataclass
class Timeline:
    outcomes: list[Outcome] = field(default_factory=list)
    down_at: float = 0.0
    up_at: float = 0.0

    def statuses(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for outcome in self.outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return counts

    def failures_after_recovery(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status != 200 and o.started > self.up_at + RECOVERY_S]

    def failures_before_outage(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status != 200 and o.finished < self.down_at]


async def _poll_through(
    timeline: Timeline, call: Callable[[], Awaitable[httpx.Response]], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        started = time.monotonic()
        error = ""
        try:
            status = (await call()).status_code
        except httpx.HTTPError as exc:
            status = 0  # no answer at all
            error = f"{type(exc).__name__}: {exc}"
        timeline.outcomes.append(Outcome(started, time.monotonic(), status, error))
        await asyncio.sleep(POLL_EVERY_S)


async def _outage(
    calls: list[Callable[[], Awaitable[httpx.Response]]],
    stop_server: Callable[[], None],
    start_server: Callable[[], None],
) -> Timeline:
    timeline = Timeline()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(_poll_through(timeline, call, stop)) for call in calls]
    await asyncio.sleep(1.5)
    timeline.down_at = time.monotonic()
    await asyncio.to_thread(stop_server)
    await asyncio.sleep(DOWN_S)
    await asyncio.to_thread(start_server)
    timeline.up_at = time.monotonic()
    await asyncio.sleep(RECOVERY_S + 3.0)
    stop.set()
    await asyncio.gather(*tasks)
    return timeline


def _report(name: str, timeline: Timeline, served: ServeProcess) -> None:
    last_failure = max((o.finished for o in timeline.outcomes if o.status != 200), default=0.0)
    print(
        f"{name}: {len(timeline.outcomes)} requests, by status {timeline.statuses()}, "
        f"last failure {last_failure - timeline.up_at:+.2f} s after the server was back"
    )
    for outcome in timeline.outcomes:
        if outcome.error:
            print(
                f"  no answer, sent {outcome.started - timeline.down_at:+.2f} s after the stop, "
                f"after {outcome.finished - outcome.started:.2f} s: {outcome.error}"
            )
    # A worker lost meanwhile (the supervisor says so) loses the requests in flight on it.
    for line in served.supervisor_lines():
        print(f"  server: {line}")


def _assert_only_503_while_down(timeline: Timeline) -> None:
    statuses = timeline.statuses()
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.get(503, 0) > 0, "the outage was never seen"
    assert timeline.failures_before_outage() == []
    assert timeline.failures_after_recovery() == []


def _env(database_url: str, redis_url: str) -> dict[str, str]:
    return serve_env(
        database_url,
        redis_url,
        ANTECHAMBER_LOBBY_RATE_LIMIT_PER_MINUTE="0",
        LIVEKIT_URL=f"ws://127.0.0.1:{closed_port()}",
        LIVEKIT_TIMEOUT_S="0.5",
    )


@pytest.fixture(scope="module")
def own_redis() -> Iterator[RedisServer]:
    with owned(start_redis(persist=True)) as server:
        yield server


@pytest.fixture(scope="module")
def served_on_own_redis(
    postgres_backend: Backend, own_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    clean_backend(postgres_backend)
    env = _env(postgres_backend.database_url, own_redis.url)
    with serving(env, tmp_path_factory.mktemp("redis-outage"), workers=2) as (server,):
        yield server


async def test_a_redis_restart_answers_503_while_down_and_loses_nothing(
    served_on_own_redis: ServeProcess, own_redis: RedisServer, http: httpx.AsyncClient
) -> None:
    base = served_on_own_redis.url
    admin = Visitor(http, base)
    await admin.login("admin@example.com")
    room = await admin.request("POST", ROOMS, {"name": "Outage", "access_level": "restricted"})
    assert room.status_code == 201, room.text
    entry = f"{ROOMS}{room.json()['id']}/request-entry/"
    visitors = [Visitor(http, base) for _ in range(POLLERS)]
    places = {}
    for visitor in visitors:
        answer = (await visitor.request("POST", entry, {})).json()
        assert answer["status"] == "waiting", answer
        places[id(visitor)] = answer["id"]
    admitted = visitors[:7]
    for visitor in admitted:
        decision = await admin.request(
            "POST",
            f"{ROOMS}{room.json()['id']}/enter/",
            {"participant_id": places[id(visitor)], "allow_entry": True},
        )
        assert decision.status_code == 200, decision.text

    def poll(visitor: Visitor) -> Callable[[], Awaitable[httpx.Response]]:
        return lambda: visitor.request("POST", entry, {})

    timeline = await _outage([poll(v) for v in visitors], own_redis.stop, own_redis.start)
    _report("redis restart under 50 pollers", timeline, served_on_own_redis)
    _assert_only_503_while_down(timeline)

    for visitor in visitors:
        answer = (await visitor.request("POST", entry, {})).json()
        assert answer["id"] == places[id(visitor)]
        expected = "accepted" if visitor in admitted else "waiting"
        assert answer["status"] == expected, answer
    me = await admin.request("GET", API + "users/me/")
    assert me.status_code == 200, "the admin's session was lost"
    listed = await admin.request("GET", f"{ROOMS}{room.json()['id']}/waiting-participants/")
    assert [p["id"] for p in listed.json()["participants"]] == [
        places[id(v)] for v in visitors[7:]
    ], "the queue's order was lost"


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    with owned(start_postgres()) as server:
        upgrade(server.url())
        yield server


@pytest.fixture(scope="module")
def served_on_own_postgres(
    own_postgres: PostgresServer, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    env = _env(own_postgres.url(), redis_url)
    with serving(env, tmp_path_factory.mktemp("pg-outage"), workers=2) as (server,):
        yield server


async def test_a_postgres_restart_answers_503_while_down_and_loses_nothing(
    served_on_own_postgres: ServeProcess, own_postgres: PostgresServer, http: httpx.AsyncClient
) -> None:
    base = served_on_own_postgres.url
    users = [Visitor(http, base) for _ in range(POLLERS)]
    rooms = []
    for n, user in enumerate(users):
        await user.login(f"user{n}@example.com")
        created = await user.request("POST", ROOMS, {"name": f"Room {n}"})
        assert created.status_code == 201, created.text
        rooms.append(created.json()["id"])

    def read(user: Visitor, n: int) -> Callable[[], Awaitable[httpx.Response]]:
        paths = (API + "users/me/", f"{ROOMS}{rooms[n]}/", ROOMS)
        turn = iter(range(10**9))
        return lambda: user.request("GET", paths[next(turn) % len(paths)])

    during: list[httpx.Response] = []

    def stop_server() -> None:
        own_postgres.stop("fast")

    async def create_while_down() -> None:
        await asyncio.sleep(1.5 + DOWN_S / 2)
        during.append(await users[0].request("POST", ROOMS, {"name": "During the outage"}))

    creator = asyncio.create_task(create_while_down())
    timeline = await _outage(
        [read(u, n) for n, u in enumerate(users)], stop_server, own_postgres.start
    )
    await creator
    _report("postgres restart under 50 readers", timeline, served_on_own_postgres)
    _assert_only_503_while_down(timeline)

    assert during[0].status_code == 503, during[0].text
    assert during[0].headers["retry-after"]
    for n, user in enumerate(users):
        mine = (await user.request("GET", ROOMS)).json()
        names = [r["name"] for r in mine["results"]]
        assert f"Room {n}" in names
        assert "During the outage" not in names
