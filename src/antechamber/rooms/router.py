"""Rooms and resource accesses (roles)."""

from __future__ import annotations

import uuid
from typing import Annotated, Protocol

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.convertors import Convertor, register_url_convertor

from antechamber import ratelimit
from antechamber.admission.service import AdmissionService
from antechamber.auth.caller import Caller
from antechamber.db.session import after_commit, transaction
from antechamber.errors import NotFound
from antechamber.http.deps import (
    Admission,
    AppSettings,
    CallerParts,
    ClientAddress,
    Db,
    Gateway,
    KeyValues,
    Lobby,
    LoggedInCaller,
    MessageBroker,
    OptionalUser,
    Rooms,
    request_caller,
    services_of,
    set_lobby_cookie,
)
from antechamber.http.guards import AdminRoom, RoomAdmin, RoomOwner
from antechamber.http.openapi import errors
from antechamber.http.pagination import Page, PageParams, make_page, page_params
from antechamber.livekit.gateway import LiveKitGateway
from antechamber.pubsub import Broker
from antechamber.rooms import accesses, callbacks, livekit_metadata, slugs
from antechamber.rooms import service as rooms
from antechamber.rooms.cache import RoomCache
from antechamber.rooms.models import AccessLevel, Role
from antechamber.rooms.schemas import (
    AccessCreate,
    AccessOut,
    AccessUpdate,
    CallbackRoom,
    CreationCallback,
    CreationCallbackOut,
    RoomConfiguration,
    RoomCreate,
    RoomOut,
    RoomUpdate,
)
from antechamber.settings import Settings
from antechamber.text import TEXT_PATTERN
from antechamber.tokens.names import MAX_DISPLAY_NAME

router = APIRouter(tags=["rooms"])
# The hot route(s) of this module: the app includes these first (FastAPI tries its
# routers in order, each try costing a few microseconds per route).
hot_router = APIRouter(tags=["rooms"])


class _RoomKey(Convertor[str]):
    """One path segment, but not the collection's own actions: GET or DELETE on
    `rooms/creation-callback/` is a 405 of that action, not a room that isn't there."""

    regex = r"(?!(?:creation-callback|webhooks-livekit)/)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("room_key", _RoomKey())
Pagination = Annotated[PageParams, Depends(page_params)]
# Blank means "no name given" (the front end always sends it); see the token rules.
Username = Annotated[
    str | None, Query(max_length=MAX_DISPLAY_NAME, json_schema_extra={"pattern": TEXT_PATTERN})
]


@router.get("/rooms/", response_model=Page[RoomOut])
async def list_rooms(
    request: Request, db: Db, user: OptionalUser, pagination: Pagination
) -> Page[RoomOut]:
    if user is None:
        return make_page(request, pagination, 0, [])
    count, rows = await rooms.rooms_of(db, user, pagination.offset, pagination.page_size)
    results = [await rooms.room_out(db, room, role, None) for room, role in rows]
    return make_page(request, pagination, count, results)


@router.post("/rooms/", status_code=201, response_model=RoomOut, responses=errors(401, 403))
async def create_room(
    body: RoomCreate,
    db: Db,
    settings: AppSettings,
    kv: KeyValues,
    admission: Admission,
    caller: LoggedInCaller,
    cache: Rooms,
    broker: MessageBroker,
    username: Username = None,
) -> RoomOut:
    assert caller.user is not None
    room = await rooms.create(db, settings, caller.user, body)
    rooms.announce_created(db, cache, broker, room)
    if body.callback_id is not None:
        # Once durable: the page polling for it may fetch the room at once.
        callback_id, ttl_s = body.callback_id, settings.creation_callback_ttl_s
        after_commit(db, lambda: callbacks.remember(kv, callback_id, room, ttl_s))
    livekit = admission.admit_owner(str(room.id), rooms.configuration_of(room), caller, username)
    return await rooms.room_out(db, room, Role.OWNER, livekit)


@router.post("/rooms/creation-callback/", response_model=CreationCallbackOut, responses=errors(429))
async def creation_callback(
    body: CreationCallback, client: ClientAddress, settings: AppSettings, kv: KeyValues
) -> CreationCallbackOut:
    """The room created with this `callback_id`, once; `room` is null before and after."""
    limit = settings.creation_callback_rate_limit_per_minute
    await ratelimit.spend(kv, "creation-callback", client, limit, 60)
    room = await callbacks.take(kv, body.callback_id)
    return CreationCallbackOut(room=CallbackRoom.model_validate(room) if room else None)


class _RoomParts(CallerParts, Protocol):
    sessionmaker: async_sessionmaker[AsyncSession]
    room_cache: RoomCache
    admission: AdmissionService


# Anyone opening a meeting link: the cached room, no database round trip for anonymous
# callers (only admins need the full row with its accesses), and the parts resolved here
# by hand rather than by per-request dependency solving (issue 11).
@hot_router.get(
    "/rooms/{room_key:room_key}/",
    response_model=RoomOut,
    response_model_exclude_none=False,
    responses=errors(403, 404),
)
async def get_room(room_key: str, request: Request, username: Username = None) -> Response:
    parts: _RoomParts = services_of(request)
    async with transaction(parts.sessionmaker) as db:
        caller, issued = await request_caller(request, parts, db)
        out = await _room_for(db, parts, room_key, caller, username)
    response = Response(out.model_dump_json(), media_type="application/json")
    if issued is not None:
        set_lobby_cookie(response, issued, parts.settings)
    return response


async def _room_for(
    db: AsyncSession, parts: _RoomParts, room_key: str, caller: Caller, username: str | None
) -> RoomOut:
    room = await rooms.snapshot(db, parts.room_cache, room_key)
    if room is None:
        return _unregistered(room_key, parts.settings, parts.admission, caller, username)
    joining = await parts.admission.admit(db, room, caller, username, asking=False)
    role, livekit = joining.role, joining.livekit
    if role is not None and role.is_admin:
        return await rooms.room_out(db, await rooms.get_or_404(db, room_key), role, livekit)
    return rooms.room_out_from_snapshot(room, livekit)


def _unregistered(
    room_key: str,
    settings: Settings,
    admission: AdmissionService,
    caller: Caller,
    username: str | None,
) -> RoomOut:
    slug = room_key.lower()
    if not settings.allow_unregistered_rooms or not slugs.looks_like_slug(slug):
        raise NotFound("No such room.")
    return RoomOut(
        id=None,
        name=slug,
        slug=slug,
        access_level=AccessLevel.PUBLIC,
        configuration=RoomConfiguration(),
        is_administrable=False,
        livekit=admission.admit_unregistered(slug, caller, username),
    )


async def _update(
    admin: AdminRoom,
    body: RoomUpdate,
    db: Db,
    settings: Settings,
    broker: Broker,
    gateway: LiveKitGateway,
    tasks: BackgroundTasks,
    *,
    partial: bool,
) -> RoomOut:
    before = livekit_metadata.live_settings(admin.room)
    room = await rooms.update(db, settings, broker, admin.room, body, partial=partial)
    if livekit_metadata.live_settings(room) != before:
        # A background task runs after the transaction committed and the answer left.
        tasks.add_task(
            livekit_metadata.push_metadata,
            gateway,
            str(room.id),
            livekit_metadata.room_metadata(room),
        )
    return await rooms.room_out(db, room, admin.role, None)


@router.put("/rooms/{room_key:room_key}/", response_model=RoomOut, responses=errors(401, 403, 404))
async def replace_room(
    admin: RoomAdmin,
    body: Annotated[RoomUpdate, Body(default_factory=RoomUpdate)],
    db: Db,
    settings: AppSettings,
    broker: MessageBroker,
    gateway: Gateway,
    tasks: BackgroundTasks,
) -> RoomOut:
    return await _update(admin, body, db, settings, broker, gateway, tasks, partial=False)


@router.patch(
    "/rooms/{room_key:room_key}/", response_model=RoomOut, responses=errors(401, 403, 404)
)
async def patch_room(
    admin: RoomAdmin,
    body: Annotated[RoomUpdate, Body(default_factory=RoomUpdate)],
    db: Db,
    settings: AppSettings,
    broker: MessageBroker,
    gateway: Gateway,
    tasks: BackgroundTasks,
) -> RoomOut:
    return await _update(admin, body, db, settings, broker, gateway, tasks, partial=True)


@router.delete("/rooms/{room_key:room_key}/", status_code=204, responses=errors(401, 403, 404))
async def delete_room(owner: RoomOwner, db: Db, broker: MessageBroker, lobby: Lobby) -> Response:
    room_id = str(owner.room.id)
    await rooms.delete(db, broker, owner.room)
    after_commit(db, lambda: lobby.clear_room(room_id))
    return Response(status_code=204)


@router.get("/resource-accesses/", response_model=Page[AccessOut], responses=errors(401))
async def list_accesses(
    request: Request,
    db: Db,
    caller: LoggedInCaller,
    pagination: Pagination,
    resource: uuid.UUID | None = None,
) -> Page[AccessOut]:
    count, rows = await accesses.list_for(
        db, caller, resource, pagination.offset, pagination.page_size
    )
    return make_page(request, pagination, count, [rooms.access_out(a) for a in rows])


@router.post(
    "/resource-accesses/",
    status_code=201,
    response_model=AccessOut,
    responses=errors(401, 403, 404, 409),
)
async def create_access(body: AccessCreate, db: Db, caller: LoggedInCaller) -> AccessOut:
    access = await accesses.create(db, caller, body.resource, body.user, body.role)
    return rooms.access_out(access)


@router.get(
    "/resource-accesses/{access_id:uuid}/",
    response_model=AccessOut,
    responses=errors(401, 403, 404),
)
async def get_access(access_id: uuid.UUID, db: Db, caller: LoggedInCaller) -> AccessOut:
    return rooms.access_out(await accesses.get(db, caller, access_id))


@router.patch(
    "/resource-accesses/{access_id:uuid}/",
    response_model=AccessOut,
    responses=errors(401, 403, 404, 409),
)
async def update_access(
    access_id: uuid.UUID,
    body: AccessUpdate,
    db: Db,
    broker: MessageBroker,
    caller: LoggedInCaller,
) -> AccessOut:
    access = await accesses.change_role(db, broker, caller, access_id, body.role)
    return rooms.access_out(access)


@router.delete(
    "/resource-accesses/{access_id:uuid}/", status_code=204, responses=errors(401, 403, 404, 409)
)
async def delete_access(
    access_id: uuid.UUID, db: Db, broker: MessageBroker, caller: LoggedInCaller
) -> Response:
    await accesses.remove(db, broker, caller, access_id)
    return Response(status_code=204)
