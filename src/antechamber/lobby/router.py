"""Lobby endpoints: request-entry, the waiting list, decisions, and the event streams."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, StrictBool
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp

from antechamber.auth.caller import Caller
from antechamber.auth.sessions import SessionService
from antechamber.db.session import transaction
from antechamber.errors import TryAgainLater
from antechamber.http.deps import (
    AppSettings,
    CallerParts,
    Lobby,
    Rooms,
    ServerShutdown,
    Sessionmaker,
    Sessions,
    Streams,
    caller_for_stream,
    client_address,
    request_caller,
    services_of,
    session_user_id,
    set_lobby_cookie,
)
from antechamber.http.fast_route import JsonPostRoute
from antechamber.http.guards import RoomAct, admin_snapshot, room_act
from antechamber.http.openapi import errors
from antechamber.lobby.service import MAX_WAITING_PAGE, LobbyService, WaitingParticipant
from antechamber.request_body import RequestBody
from antechamber.rooms import service as rooms
from antechamber.rooms.cache import RoomCache, RoomSnapshot
from antechamber.settings import Settings
from antechamber.text import TEXT_PATTERN
from antechamber.tokens.names import MAX_DISPLAY_NAME

router = APIRouter(tags=["lobby"])
# The hot route(s) of this module: the app includes these first (FastAPI tries its
# routers in order, each try costing a few microseconds per route).
hot_router = APIRouter(tags=["lobby"])


class EntryRequest(RequestBody):
    # Checked (trimmed, at most 100 characters, no control character) by the token rules,
    # with one reason; blank means "no name given".
    username: str | None = Field(
        default=None, max_length=MAX_DISPLAY_NAME, json_schema_extra={"pattern": TEXT_PATTERN}
    )


class Decision(RequestBody):
    participant_id: uuid.UUID
    allow_entry: StrictBool

    def audit(self) -> tuple[str, dict[str, Any]]:
        return str(self.participant_id), {"allow_entry": self.allow_entry}


class DecisionForAll(RequestBody):
    allow_entry: StrictBool

    def audit(self) -> tuple[str, dict[str, Any]]:
        return "", {"allow_entry": self.allow_entry}


# An anonymous caller's attempt is recorded too (the room is found first).
DecisionAct = Annotated[RoomAct[Decision], room_act("lobby_decide", Decision, login_first=False)]
DecisionForAllAct = Annotated[
    RoomAct[DecisionForAll], room_act("lobby_decide_all", DecisionForAll, login_first=False)
]


@dataclass(frozen=True)
class _StreamParts:
    """What opening a stream needs, without a request-scoped DB session (a stream may stay
    open for minutes): refused at once while the server stops."""

    session: async_sessionmaker[AsyncSession]
    sessions: SessionService
    settings: Settings
    rooms: RoomCache

    async def caller(self, request: Request, db: AsyncSession) -> Caller:
        return await caller_for_stream(request, self.sessions, self.settings, db)


async def _stream_parts(
    shutdown: ServerShutdown,
    sessionmaker: Sessionmaker,
    sessions: Sessions,
    settings: AppSettings,
    cache: Rooms,
) -> _StreamParts:
    if shutdown.draining:
        raise TryAgainLater("This server is stopping; reconnect to another one.")
    return _StreamParts(sessionmaker, sessions, settings, cache)


StreamParts = Annotated[_StreamParts, Depends(_stream_parts)]


class _EntryParts(CallerParts, Protocol):
    sessionmaker: async_sessionmaker[AsyncSession]
    room_cache: RoomCache
    lobby: LobbyService


# The hottest route (every waiting participant polls it): its parts are resolved here by
# hand, not by per-request dependency solving, which cost a third of its time (issue 11).
@hot_router.post(
    "/rooms/{room_key}/request-entry/",
    response_model=dict[str, Any],
    responses=errors(403, 404, 409, 429),
)
async def request_entry(
    room_key: str,
    body: Annotated[EntryRequest, Body(default_factory=EntryRequest)],
    request: Request,
) -> Response:
    return await answer_entry(request, room_key, body)


async def answer_entry(request: Request, room_key: str, body: EntryRequest) -> Response:
    """Request-entry's answer: from the route above, or from `entry_fast_route`."""
    parts: _EntryParts = services_of(request)
    async with transaction(parts.sessionmaker) as db:
        caller, issued = await request_caller(request, parts, db)
        room = await rooms.snapshot_or_404(db, parts.room_cache, room_key)
        client = client_address(request)
        entry = await parts.lobby.request_entry(db, room, caller, body.username, client)
    response = JSONResponse(entry.as_json())
    if issued is not None:
        set_lobby_cookie(response, issued, parts.settings)
    return response


def entry_fast_route(api: str, router: ASGIApp) -> JsonPostRoute[EntryRequest]:
    """Request-entry's common case (a JSON body) without FastAPI's per-request work;
    anything else reaches the route above through `router` (see `http.fast_route`)."""
    return JsonPostRoute(
        f"{api}/rooms/", "room_key", "/request-entry/", EntryRequest, answer_entry, router
    )


class WaitingList(BaseModel):
    participants: list[WaitingParticipant]
    # Only with `limit` or `after`: the cursor of the next page, null on the last one.
    next: str | None = None


class _ListParts(CallerParts, Protocol):
    reader_sessionmaker: async_sessionmaker[AsyncSession]
    room_cache: RoomCache
    lobby: LobbyService


# Admins poll it; its parts are resolved by hand too (see request-entry).
@hot_router.get(
    "/rooms/{room_key}/waiting-participants/",
    responses=errors(401, 403, 404),
    response_model=WaitingList,
)
async def waiting_participants(
    room_key: str,
    request: Request,
    limit: Annotated[int | None, Query(ge=1, le=MAX_WAITING_PAGE)] = None,
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    parts: _ListParts = services_of(request)
    # Only reads: no transaction round trips.
    async with transaction(parts.reader_sessionmaker) as db:
        # A GET: no CSRF check, so the session's user id is enough (one query with the
        # role, where loading the user first took two).
        user_id = await session_user_id(request, parts.sessions)
        room = await rooms.snapshot_or_404(db, parts.room_cache, room_key)
        await rooms.require_admin_by_id(db, parts.room_cache, room.id, user_id)
    # Encoded once per change of the lobby, not once per admin poll; pages cut from it.
    return Response(
        await parts.lobby.waiting_json(room, limit, after), media_type="application/json"
    )


@router.post("/rooms/{room_key}/enter/", responses=errors(400, 401, 403, 404, 409))
async def enter(act: DecisionAct, lobby: Lobby) -> dict[str, Any]:
    await lobby.decide(RoomSnapshot.of(act.room), act.body.participant_id, act.body.allow_entry)
    return {}


@router.post("/rooms/{room_key}/enter-all/", responses=errors(400, 401, 403, 404))
async def enter_all(act: DecisionForAllAct, lobby: Lobby) -> dict[str, int]:
    count = await lobby.decide_all(RoomSnapshot.of(act.room), act.body.allow_entry)
    act.act.detail["count"] = count
    return {"count": count}


_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}
}


@router.get(
    "/rooms/{room_key}/lobby-events/",
    response_class=StreamingResponse,
    responses={**_SSE, **errors(404)},
)
async def lobby_events(
    room_key: str, request: Request, lobby: Lobby, streams: Streams, parts: StreamParts
) -> StreamingResponse:
    # No request-scoped DB session here: a stream may stay open for minutes.
    async with parts.session() as db:
        caller = await parts.caller(request, db)
        room = await rooms.snapshot_or_404(db, parts.rooms, room_key)
        opening = await lobby.follow(db, room, caller)
    stream = streams.participant(room, caller, opening)
    return StreamingResponse(stream, media_type="text/event-stream", headers=_STREAM_HEADERS)


@router.get(
    "/rooms/{room_key}/waiting-participants-events/",
    response_class=StreamingResponse,
    responses={**_SSE, **errors(401, 403, 404)},
)
async def waiting_participants_events(
    room_key: str, request: Request, streams: Streams, parts: StreamParts
) -> StreamingResponse:
    async with parts.session() as db:
        caller = await parts.caller(request, db)
        room = await admin_snapshot(db, parts.rooms, room_key, caller.user)
    stream = streams.admin(room)
    return StreamingResponse(stream, media_type="text/event-stream", headers=_STREAM_HEADERS)
