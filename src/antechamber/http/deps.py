"""Request dependencies, as `Annotated` aliases in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from antechamber.auth.caller import Caller
from antechamber.container import Services
from antechamber.errors import NotAuthenticated
from antechamber.http import csrf
from antechamber.tokens.identity import (
    LOBBY_COOKIE,
    new_lobby_secret,
    public_participant_id,
    valid_lobby_secret,
)
from antechamber.users import service as users
from antechamber.users.models import User

SESSION_COOKIE = "sessionid"


# Dependencies that don't block are `async def`: FastAPI runs plain `def` ones in its thread
# pool, a thread hop on every request for nothing.
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_db(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    """The request's session, lazy: a bare `AsyncSession` opens its transaction (and checks
    out a connection) on first use only. Committed when the route returns if it was used;
    a request that never touched it (a poll served from Redis and the room cache) costs
    no transaction, no commit and no close."""
    session = services.sessionmaker()
    try:
        yield session
        if session.in_transaction():
            await session.commit()
    finally:
        # Still in a transaction here: the route (or the commit) failed. Closing rolls
        # back and returns the connection at once.
        if session.in_transaction():
            await session.close()


# scope="function": the transaction ends (commits, or fails into an error answer) when the
# route returns, BEFORE the response starts. With the default "request" scope FastAPI
# closes the dependency after the response is sent: a client could read its 201 before
# the commit, and a failed commit would lose a write it was told succeeded.
Db = Annotated[AsyncSession, Depends(get_db, scope="function")]


async def user_from_request(request: Request, services: Services, db: AsyncSession) -> User | None:
    """The logged-in user, if the session cookie is valid; CSRF-checked on unsafe methods."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    session = await services.sessions.load(session_id)
    if session is None:
        return None
    user = await users.get(db, session.user_id)
    if user is not None:
        csrf.verify(request, services.settings.allowed_origins)
    return user


async def get_user(request: Request, services: ServicesDep, db: Db) -> User | None:
    return await user_from_request(request, services, db)


OptionalUser = Annotated[User | None, Depends(get_user)]


async def require_user(user: OptionalUser) -> User:
    if user is None:
        raise NotAuthenticated("Authentication credentials were not provided.")
    return user


CurrentUser = Annotated[User, Depends(require_user)]


async def lobby_secret(request: Request, response: Response, services: ServicesDep) -> str:
    """The caller's lobby secret, issuing a new cookie when it has none (or a bad one)."""
    secret = request.cookies.get(LOBBY_COOKIE)
    if not valid_lobby_secret(secret):
        secret = new_lobby_secret()
        response.set_cookie(
            LOBBY_COOKIE,
            secret,
            max_age=30 * 86400,
            httponly=True,
            secure=services.settings.is_production,
            samesite="lax",
            path="/",
        )
    assert secret is not None
    return secret


LobbySecret = Annotated[str, Depends(lobby_secret)]


async def get_caller(user: OptionalUser, secret: LobbySecret, services: ServicesDep) -> Caller:
    return Caller(user=user, participant_id=public_participant_id(services.secret_key, secret))


CallerDep = Annotated[Caller, Depends(get_caller)]


async def caller_for_stream(request: Request, services: Services, db: AsyncSession) -> Caller:
    """For event streams, which must not hold a request-scoped DB session open. Never
    issues a lobby cookie: a stream follows a place that request-entry created."""
    user = await user_from_request(request, services, db)
    secret = request.cookies.get(LOBBY_COOKIE)
    participant_id = ""
    if valid_lobby_secret(secret):
        assert secret is not None
        participant_id = public_participant_id(services.secret_key, secret)
    return Caller(user=user, participant_id=participant_id)


async def get_admin_caller(user: CurrentUser) -> Caller:
    """A logged-in caller on a path that needs no lobby identity."""
    return Caller(user=user, participant_id="")


UserCaller = Annotated[Caller, Depends(get_admin_caller)]
