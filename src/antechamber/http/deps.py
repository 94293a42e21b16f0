"""Request dependencies, as `Annotated` aliases in one place."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from antechamber.admission.service import AdmissionService
from antechamber.auth.caller import Caller
from antechamber.auth.sessions import KeyValueStore, SessionService
from antechamber.db.session import transaction
from antechamber.diagnostics.service import DiagnosticsService
from antechamber.errors import NotAuthenticated
from antechamber.http import csrf
from antechamber.http.shutdown import Shutdown
from antechamber.invitations.service import InvitationService
from antechamber.livekit.gateway import LiveKitGateway
from antechamber.lobby.events import LobbyStreams
from antechamber.lobby.service import LobbyService
from antechamber.moderation.service import ModerationService
from antechamber.observability.metrics import Metrics
from antechamber.presence.store import PresenceStore
from antechamber.pubsub import Broker
from antechamber.redis_client import RedisClient
from antechamber.rooms.cache import RoomCache
from antechamber.settings import Settings
from antechamber.tokens.identity import (
    LOBBY_COOKIE,
    new_lobby_secret,
    public_participant_id,
    valid_lobby_secret,
)
from antechamber.users import service as users
from antechamber.users.models import User
from antechamber.webhooks.service import WebhookService

SESSION_COOKIE = "sessionid"


def services_of(request: Request) -> Any:
    """The process' services (built by the app's lifespan). Typed by the caller, with a
    Protocol naming the parts it reads."""
    return request.app.state.services


# Dependencies that don't block are `async def`: FastAPI runs plain `def` ones in its thread
# pool, a thread hop on every request for nothing.
def _part(name: str) -> Any:
    """A dependency on one part of the process' services (built by the app's lifespan):
    each route asks for the parts it uses, never for all of them."""

    async def part(request: Request) -> Any:
        return getattr(services_of(request), name)

    part.__name__ = f"get_{name}"
    return Depends(part)


AppSettings = Annotated[Settings, _part("settings")]
Sessionmaker = Annotated[async_sessionmaker[AsyncSession], _part("sessionmaker")]
Engine = Annotated[AsyncEngine, _part("engine")]
Redis = Annotated[RedisClient | None, _part("redis")]
KeyValues = Annotated[KeyValueStore, _part("kv")]
Sessions = Annotated[SessionService, _part("sessions")]
if TYPE_CHECKING:
    from antechamber.auth.oidc import OIDCClient

    Oidc = Annotated[OIDCClient | None, _part("oidc")]
else:
    # The OIDC module (Authlib, httpx) loads only where OIDC is on: at run time this alias
    # names no class (FastAPI never checks what a dependency returns).
    Oidc = Annotated[object, _part("oidc")]
Rooms = Annotated[RoomCache, _part("room_cache")]
Admission = Annotated[AdmissionService, _part("admission")]
Lobby = Annotated[LobbyService, _part("lobby")]
Streams = Annotated[LobbyStreams, _part("streams")]
Moderation = Annotated[ModerationService, _part("moderation")]
Presence = Annotated[PresenceStore, _part("presence")]
Gateway = Annotated[LiveKitGateway, _part("livekit")]
MessageBroker = Annotated[Broker, _part("broker")]
Webhooks = Annotated[WebhookService, _part("webhooks")]
Invitations = Annotated[InvitationService, _part("invitations")]
Diagnostics = Annotated[DiagnosticsService, _part("diagnostics")]
MetricsDep = Annotated[Metrics, _part("metrics")]
ServerShutdown = Annotated[Shutdown, _part("shutdown")]


def client_address(request: Request) -> str:
    """The caller's address (the real one behind a trusted proxy: see `serve`)."""
    return request.client.host if request.client else "unknown"


async def _client_address(request: Request) -> str:
    return client_address(request)


ClientAddress = Annotated[str, Depends(_client_address)]


async def get_db(sessionmaker: Sessionmaker) -> AsyncIterator[AsyncSession]:
    """The request's session (lazy: see `transaction`), committed when the route returns."""
    async with transaction(sessionmaker) as session:
        yield session


# scope="function": the transaction ends (commits, or fails into an error answer) when the
# route returns, BEFORE the response starts. With the default "request" scope FastAPI
# closes the dependency after the response is sent: a client could read its 201 before
# the commit, and a failed commit would lose a write it was told succeeded.
Db = Annotated[AsyncSession, Depends(get_db, scope="function")]


async def session_user_id(request: Request, sessions: SessionService) -> uuid.UUID | None:
    """Whose login session the cookie names, if it names a live one (the user may have
    been deleted since)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None
    session = await sessions.load(session_id)
    return None if session is None else session.user_id


async def user_from_request(
    request: Request, sessions: SessionService, settings: Settings, db: AsyncSession
) -> User | None:
    """The logged-in user, if the session cookie is valid; CSRF-checked on unsafe methods."""
    user_id = await session_user_id(request, sessions)
    if user_id is None:
        return None
    user = await users.get(db, user_id)
    if user is not None:
        csrf.verify(request, settings.allowed_origins)
    return user


async def get_user(
    request: Request, sessions: Sessions, settings: AppSettings, db: Db
) -> User | None:
    return await user_from_request(request, sessions, settings, db)


OptionalUser = Annotated[User | None, Depends(get_user)]


async def require_user(user: OptionalUser) -> User:
    if user is None:
        raise NotAuthenticated("Authentication credentials were not provided.")
    return user


CurrentUser = Annotated[User, Depends(require_user)]


class CallerParts(Protocol):
    """What resolving a caller reads: the process' services have these parts."""

    settings: Settings
    sessions: SessionService


async def request_caller(
    request: Request, parts: CallerParts, db: AsyncSession
) -> tuple[Caller, str | None]:
    """The caller of request-entry and GET room: the logged-in user if any, and a lobby
    identity from the lobby cookie, with a new secret (returned, for the answer's cookie:
    `set_lobby_cookie`) when the request has none or a bad one."""
    user = await user_from_request(request, parts.sessions, parts.settings, db)
    secret = request.cookies.get(LOBBY_COOKIE)
    issued = None
    if secret is None or not valid_lobby_secret(secret):
        secret = issued = new_lobby_secret()
    return Caller(user=user, participant_id=_participant_id(parts.settings, secret)), issued


def set_lobby_cookie(response: Response, secret: str, settings: Settings) -> None:
    response.set_cookie(
        LOBBY_COOKIE,
        secret,
        max_age=30 * 86400,
        httponly=True,
        secure=settings.is_production,
        samesite="lax",
        path="/",
    )


def _participant_id(settings: Settings, secret: str) -> str:
    return public_participant_id(settings.secret_key.get_secret_value().encode(), secret)


async def caller_for_stream(
    request: Request, sessions: SessionService, settings: Settings, db: AsyncSession
) -> Caller:
    """For event streams, which must not hold a request-scoped DB session open. Never
    issues a lobby cookie: a stream follows a place that request-entry created."""
    user = await user_from_request(request, sessions, settings, db)
    secret = request.cookies.get(LOBBY_COOKIE)
    participant_id = ""
    if valid_lobby_secret(secret):
        assert secret is not None
        participant_id = _participant_id(settings, secret)
    return Caller(user=user, participant_id=participant_id)


async def get_logged_in_caller(user: CurrentUser) -> Caller:
    """A logged-in caller on a path that needs no lobby identity."""
    return Caller(user=user, participant_id="")


LoggedInCaller = Annotated[Caller, Depends(get_logged_in_caller)]
