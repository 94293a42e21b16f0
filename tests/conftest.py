"""Shared fixtures: the app on SQLite + in-memory stores and on PostgreSQL + Redis.

The test session starts its own PostgreSQL and Redis from the installed binaries (see
`tests/servers.py`), on free loopback ports in a temporary folder removed at the end.
Without the binaries those tests are skipped and say so; with
ANTECHAMBER_TEST_REQUIRE_SERVICES=1 (as `.ci/run` sets) they fail instead.
ANTECHAMBER_TEST_DATABASE_URL and ANTECHAMBER_TEST_REDIS_URL point the tests at servers
of your own instead (their database and Redis db are emptied).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text

from antechamber.app import create_app
from antechamber.db.migrate import upgrade
from antechamber.db.session import create_engine
from antechamber.settings import (
    DatabaseSettings,
    LiveKitSettings,
    LobbySettings,
    OIDCSettings,
    RedisSettings,
    Settings,
)
from antechamber.tables import Base
from tests import servers
from tests.redis_cluster import redis_cluster  # noqa: F401 - the shared cluster fixture

# Your own servers instead of the session's (both or neither).
PG_URL = os.environ.get("ANTECHAMBER_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("ANTECHAMBER_TEST_REDIS_URL")
REQUIRE_SERVICES = os.environ.get("ANTECHAMBER_TEST_REQUIRE_SERVICES") == "1"
LIVEKIT_KEY = "antechamber-test-key"
LIVEKIT_SECRET = "antechamber-test-secret-0123456789abcdef"


def missing_service(message: str) -> None:
    """Skips the test with the reason, or fails it where services are required."""
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


def _started(start: Callable[[], servers.Owned]) -> servers.Owned:
    try:
        return start()
    except servers.MissingBinary as exc:
        missing_service(str(exc))
        raise


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[servers.PostgresServer]:
    """A PostgreSQL cluster of this test session's own."""
    with servers.owned(_started(servers.start_postgres)) as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[servers.RedisServer]:
    """A Redis of this test session's own (persistence off: nothing here needs it)."""
    with servers.owned(_started(lambda: servers.start_redis(persist=False))) as server:
        yield server


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    redis_url: str | None


@pytest.fixture(scope="session")
def sqlite_backend(tmp_path_factory: pytest.TempPathFactory) -> Backend:
    path = Path(tmp_path_factory.mktemp("db")) / "test.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    return Backend("sqlite", url, None)


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> str:
    """The test session's Redis (its db 0 is the tests' to empty)."""
    if REDIS_URL:
        return REDIS_URL
    server: servers.RedisServer = request.getfixturevalue("redis_server")
    return server.url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client of the test session's Redis, its db emptied before and after the test."""
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture(scope="session")
def postgres_backend(request: pytest.FixtureRequest) -> Backend:
    if PG_URL and REDIS_URL:
        database_url, redis_url = PG_URL, REDIS_URL
    else:
        database_url = request.getfixturevalue("postgres_server").url()
        redis_url = request.getfixturevalue("redis_server").url
    _reset_postgres_schema(database_url)
    upgrade(database_url)
    return Backend("postgres", database_url, redis_url)


def _reset_postgres_schema(url: str) -> None:
    import asyncio

    async def reset() -> None:
        engine = create_engine(DatabaseSettings(url=url))
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(reset())


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Every test that takes `backend` (or `app`/`client`) runs on both stacks."""
    return request.getfixturevalue(f"{request.param}_backend")  # type: ignore[no-any-return]


def make_settings(backend: Backend, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "development",
        "secret_key": "test-secret-key-that-is-long-enough-0123456789",
        "dev_login_enabled": True,
        "allowed_origins": ["http://front.test"],
        "migrate_on_start": False,
        "database": DatabaseSettings(url=backend.database_url),
        "redis": RedisSettings(url=backend.redis_url),
        "livekit": LiveKitSettings(
            url="ws://127.0.0.1:7880", api_key=LIVEKIT_KEY, api_secret=LIVEKIT_SECRET
        ),
        "lobby": LobbySettings(),
        "oidc": OIDCSettings(issuer=None, client_id=None),
    }
    values.update(overrides)
    return Settings(**values)


async def _clean(backend: Backend) -> None:
    engine = create_engine(DatabaseSettings(url=backend.database_url))
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(table.delete())
    await engine.dispose()
    if backend.redis_url:
        client = Redis.from_url(backend.redis_url)
        await client.flushdb()
        await client.aclose()


def clean_backend(backend: Backend) -> None:
    """For synchronous fixtures (module-scoped servers)."""
    import asyncio

    asyncio.run(_clean(backend))


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[FastAPI]:
    async with app.router.lifespan_context(app):
        yield app


class Browser(httpx.AsyncClient):
    """A client that keeps cookies and echoes the CSRF cookie like the front end does."""

    def __init__(self, app: FastAPI, **kwargs: Any) -> None:
        super().__init__(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            event_hooks={"request": [self._add_csrf]},
            **kwargs,
        )

    async def _add_csrf(self, request: httpx.Request) -> None:
        token = self.cookies.get("csrftoken")
        if token and request.method not in ("GET", "HEAD", "OPTIONS"):
            request.headers.setdefault("X-CSRFToken", token)

    async def login(self, email: str) -> dict[str, Any]:
        response = await self.post("/api/v1.0/dev-login/", json={"email": email})
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


@dataclass
class Stack:
    app: FastAPI
    backend: Backend
    settings: Settings

    def browser(self) -> Browser:
        return Browser(self.app)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for its app."""
    return {}


@pytest.fixture
async def stack(backend: Backend, settings_overrides: dict[str, Any]) -> AsyncIterator[Stack]:
    await _clean(backend)
    settings = make_settings(backend, **settings_overrides)
    app = create_app(settings)
    async with running(app):
        yield Stack(app, backend, settings)
        # Every request gives its database connection back, whatever it answered.
        assert app.state.services.engine.pool.checkedout() == 0


@asynccontextmanager
async def logged_in(stack: Stack, email: str) -> AsyncIterator[Browser]:
    async with stack.browser() as browser:
        await browser.login(email)
        yield browser


@pytest.fixture
async def alice(stack: Stack) -> AsyncIterator[Browser]:
    async with logged_in(stack, "alice@example.com") as browser:
        yield browser


@pytest.fixture
async def bob(stack: Stack) -> AsyncIterator[Browser]:
    async with logged_in(stack, "bob@example.com") as browser:
        yield browser


@pytest.fixture
async def anonymous(stack: Stack) -> AsyncIterator[Browser]:
    async with stack.browser() as browser:
        yield browser


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """A client for served processes over real HTTP (cookies: see tests/visitors.py)."""
    # A served process closes a connection idle for 5 s (uvicorn's keep-alive time-out),
    # which is also httpx's default expiry: a connection reused right at 5 s could be
    # closed under the request ("ReadError", no answer). Browsers retry such a request;
    # this client instead never reuses a connection that has been idle that long.
    limits = httpx.Limits(max_connections=200, keepalive_expiry=2.0)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        yield client


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keeps the developer's environment out of Settings() built in a test."""
    for key in list(os.environ):
        if key.startswith(
            ("ANTECHAMBER_", "LIVEKIT_", "DATABASE_", "REDIS_")
        ) and not key.startswith("ANTECHAMBER_TEST_"):
            monkeypatch.delenv(key)
