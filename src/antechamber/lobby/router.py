"""Lobby endpoints: request-entry, the waiting list, decisions, and the event streams."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field, StrictBool
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from antechamber.auth.caller import Caller
from antechamber.auth.sessions import SessionService
from antechamber.errors import TryAgainLater
from antechamber.http.deps import (
    AppSettings,
    CallerDep,
    ClientAddress,
    Db,
    Lobby,
    Rooms,
    ServerShutdown,
    Sessionmaker,
    Sessions,
    Streams,
    caller_for_stream,
)
from antechamber.http.guards import LobbyAdmin, RoomAct, admin_snapshot, room_act
from antechamber.http.openapi import errors
from antechamber.lobby.service import MAX_WAITING_PAGE, WaitingParticipant
from antechamber.request_body import RequestBody
from antechamber.rooms import service as rooms
from antechamber.rooms.cache import RoomCache, RoomSnapshot
from antechamber.settings import Settings
from antechamber.text import TEXT_PATTERN
from antechamber.tokens.names import MAX_DISPLAY_NAME

router = APIRouter(tags=["lobby"])


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


@router.post("/rooms/{room_key}/request-entry/", responses=errors(403, 404, 409, 429))
async def request_entry(
    room_key: str,
    body: Annotated[EntryRequest, Body(default_factory=EntryRequest)],
    client: ClientAddress,
    db: Db,
    rooms_cache: Rooms,
    lobby: Lobby,
    caller: CallerDep,
) -> dict[str, Any]:
    room = await rooms.snapshot_or_404(db, rooms_cache, room_key)
    entry = await lobby.request_entry(db, room, caller, body.username, client)
    return entry.as_json()


class WaitingList(BaseModel):
    participants: list[WaitingParticipant]
    # Only with `limit` or `after`: the cursor of the next page, null on the last one.
    next: str | None = None


@router.get(
    "/rooms/{room_key}/waiting-participants/",
    responses=errors(401, 403, 404),
    response_model=WaitingList,
)
async def waiting_participants(
    room: LobbyAdmin,
    lobby: Lobby,
    limit: Annotated[int | None, Query(ge=1, le=MAX_WAITING_PAGE)] = None,
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    # Encoded once per change of the lobby, not once per admin poll; pages cut from it.
    return Response(await lobby.waiting_json(room, limit, after), media_type="application/json")


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
