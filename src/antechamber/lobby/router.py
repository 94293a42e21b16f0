"""Lobby endpoints: request-entry, the waiting list, decisions, and the event streams."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field, StrictBool

from antechamber.auth.caller import Caller
from antechamber.container import Services
from antechamber.errors import NotFound, TryAgainLater
from antechamber.http.body import RequestBody
from antechamber.http.deps import CallerDep, Db, ServicesDep, caller_for_stream
from antechamber.http.openapi import errors
from antechamber.lobby import events
from antechamber.lobby.service import MAX_WAITING_PAGE
from antechamber.moderation.audit import Act, Actor, audited
from antechamber.rooms import service as rooms
from antechamber.rooms.cache import RoomSnapshot
from antechamber.text import TEXT_PATTERN
from antechamber.tokens.service import MAX_DISPLAY_NAME

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


class DecisionForAll(RequestBody):
    allow_entry: StrictBool


async def _room(db: Db, services: Services, room_key: str) -> RoomSnapshot:
    room = await rooms.snapshot(db, services.room_cache, room_key)
    if room is None:
        raise NotFound("No such room.")
    return room


async def _admin_room(db: Db, services: Services, room_key: str, caller: Caller) -> RoomSnapshot:
    room = await _room(db, services, room_key)
    await rooms.require_admin_by_id(db, room.id, caller)
    return room


def _refuse_if_stopping(services: Services) -> None:
    if services.shutdown.draining:
        raise TryAgainLater("This server is stopping; reconnect to another one.")


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/rooms/{room_key}/request-entry/", responses=errors(403, 404, 409, 429))
async def request_entry(
    room_key: str,
    body: Annotated[EntryRequest, Body(default_factory=EntryRequest)],
    request: Request,
    db: Db,
    services: ServicesDep,
    caller: CallerDep,
) -> dict[str, Any]:
    room = await _room(db, services, room_key)
    entry = await services.lobby.request_entry(
        db, room, caller, body.username, _client_address(request)
    )
    return entry.as_json()


class WaitingParticipant(BaseModel):
    id: str
    username: str
    color: str
    status: str
    requested_at: str


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
    room_key: str,
    db: Db,
    services: ServicesDep,
    caller: CallerDep,
    limit: Annotated[int | None, Query(ge=1, le=MAX_WAITING_PAGE)] = None,
    after: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    room = await _admin_room(db, services, room_key, caller)
    # Encoded once per change of the lobby, not once per admin poll; pages cut from it.
    body = await services.lobby.waiting_json(room, limit, after)
    return Response(body, media_type="application/json")


@router.post("/rooms/{room_key}/enter/", responses=errors(400, 401, 403, 404, 409))
async def enter(
    room_key: str, body: Decision, db: Db, services: ServicesDep, caller: CallerDep
) -> dict[str, Any]:
    room = await _room(db, services, room_key)
    target = str(body.participant_id)
    act = Act(Actor.of(caller.user), "lobby_decide", target, {"allow_entry": body.allow_entry})
    async with audited(services.sessionmaker, room.id, act):
        await rooms.require_admin_by_id(db, room.id, caller)
        await services.lobby.decide(room, body.participant_id, body.allow_entry)
    return {}


@router.post("/rooms/{room_key}/enter-all/", responses=errors(400, 401, 403, 404))
async def enter_all(
    room_key: str, body: DecisionForAll, db: Db, services: ServicesDep, caller: CallerDep
) -> dict[str, int]:
    room = await _room(db, services, room_key)
    act = Act(Actor.of(caller.user), "lobby_decide_all", "", {"allow_entry": body.allow_entry})
    async with audited(services.sessionmaker, room.id, act):
        await rooms.require_admin_by_id(db, room.id, caller)
        count = await services.lobby.decide_all(room, body.allow_entry)
        act.detail["count"] = count
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
async def lobby_events(room_key: str, request: Request, services: ServicesDep) -> StreamingResponse:
    _refuse_if_stopping(services)
    # No request-scoped DB session here: a stream may stay open for minutes.
    async with services.sessionmaker() as db:
        caller = await caller_for_stream(request, services, db)
        room = await _room(db, services, room_key)
        opening = await events.open_participant_stream(services, db, room, caller)
    stream = events.participant_stream(services, room, caller, opening)
    return StreamingResponse(stream, media_type="text/event-stream", headers=_STREAM_HEADERS)


@router.get(
    "/rooms/{room_key}/waiting-participants-events/",
    response_class=StreamingResponse,
    responses={**_SSE, **errors(401, 403, 404)},
)
async def waiting_participants_events(
    room_key: str, request: Request, services: ServicesDep
) -> StreamingResponse:
    _refuse_if_stopping(services)
    async with services.sessionmaker() as db:
        caller = await caller_for_stream(request, services, db)
        room = await _admin_room(db, services, room_key, caller)
    stream = events.admin_stream(services, room)
    return StreamingResponse(stream, media_type="text/event-stream", headers=_STREAM_HEADERS)
