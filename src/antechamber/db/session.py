"""Engine and sessions: one transaction per request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVarTuple

from sqlalchemy import Result, Select, event, func, select, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from antechamber.settings import DatabaseSettings


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    if settings.is_sqlite:
        _ensure_sqlite_folder(settings.url)
        engine = create_async_engine(settings.url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        settings.url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_size,
        # A connection broken by a server restart is found at checkout and replaced, so
        # the first requests after a restart don't fail on it (a round trip per checkout;
        # requests that don't touch the database never check one out).
        pool_pre_ping=True,
        pool_recycle=1800,
        # Waiting for a pooled connection is bounded: past it, 503 (not a hung request).
        pool_timeout=10,
    )


def _ensure_sqlite_folder(url: str) -> None:
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def create_reader_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for requests that only read (an admin's poll of the waiting list): their
    statements run outside any transaction, so no BEGIN and COMMIT round trips; each
    statement sees committed data. The same pool as `create_sessionmaker`'s."""
    return async_sessionmaker(
        engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
    )


_AFTER_COMMIT = "antechamber.after_commit"


def after_commit(session: AsyncSession, action: Callable[[], Awaitable[object]]) -> None:
    """Runs `action` once the session's transaction (`transaction` below) has committed,
    in the order given; never when it rolls back. For what must only happen once the data
    is durable (telling other processes, another store, LiveKit), yet before the answer."""
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


@asynccontextmanager
async def transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session whose transaction commits when the request succeeds, else rolls back;
    the only place a request's data is committed, then its `after_commit` actions run.

    Lazy: a bare `AsyncSession` opens its transaction (and checks out a connection) on
    first use only, so a request that never touched it (a poll served from Redis and the
    room cache) costs no transaction, no commit and no close. A context manager, so an
    error thrown in by the caller reaches it at once.
    """
    session = sessionmaker()
    try:
        yield session
        if session.in_transaction():
            await session.commit()
    finally:
        # Still in a transaction here: the caller (or the commit) failed. Closing rolls
        # back and returns the connection at once.
        if session.in_transaction():
            await session.close()
    for action in session.info.pop(_AFTER_COMMIT, []):
        await action()


Row = TypeVarTuple("Row")


async def counted_page(
    db: AsyncSession,
    query: Select[*Row],
    order_by: Sequence[Any],
    offset: int,
    limit: int,
) -> tuple[int, Result[*Row]]:
    """How many rows `query` selects, and one page of them in that order."""
    count = (await db.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    page = await db.execute(query.order_by(*order_by).offset(offset).limit(limit))
    return count, page


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
