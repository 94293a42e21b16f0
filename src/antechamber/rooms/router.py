"""Rooms and resource accesses (roles)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Body, Depends, Query, Request, Response
from starlette.convertors import Convertor, register_url_convertor

from antechamber import ratelimit
from antechamber.auth.caller import Caller
from antechamber.errors import NotFound, PermissionDenied
from antechamber.http.deps import CallerDep, Db, OptionalUser, ServicesDep, UserCaller
from antechamber.http.openapi import errors
from antechamber.http.pagination import Page, PageParams, make_page, page_params
from antechamber.rooms import accesses, callbacks, capacity, live, policy, slugs
from antechamber.rooms import service as rooms
from antechamber.rooms.cache import ROOMS_CHANNEL
from antechamber.rooms.models import AccessLevel, Role, Room
from antechamber.rooms.schemas import (
    AccessCreate,
    AccessOut,
    AccessUpdate,
    CallbackRoom,
    CreationCallback,
    CreationCallbackOut,
    LiveKitAccess,
    RoomConfiguration,
    RoomCreate,
    RoomOut,
    RoomUpdate,
)
from antechamber.text import TEXT_PATTERN
from antechamber.tokens.service import MAX_DISPLAY_NAME, display_name, requested_display_name

router = APIRouter(tags=["rooms"])


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


def _join(
    services: ServicesDep,
    caller: Caller,
    livekit_room: str,
    role: Role | None,
    config: RoomConfiguration,
    username: str | None,
) -> LiveKitAccess:
    chosen = requested_display_name(username)
    full_name = caller.user.full_name if caller.user else None
    return services.tokens.issue(
        livekit_room=livekit_room,
        identity=caller.identity,
        name=display_name(services.settings, chosen, full_name, caller.is_authenticated),
        role=role,
        is_authenticated=caller.is_authenticated,
        can_publish_sources=config.can_publish_sources,
        max_participants=config.max_participants,
    )


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
    body: RoomCreate, db: Db, services: ServicesDep, caller: UserCaller, username: Username = None
) -> RoomOut:
    assert caller.user is not None
    room = await rooms.create(db, services.settings, caller.user, body)
    await db.commit()  # before telling other processes (and the callback page) it exists
    await rooms.announce_created(room, services.room_cache, services.broker)
    if body.callback_id is not None:
        await callbacks.remember(
            services.kv, body.callback_id, room, services.settings.creation_callback_ttl_s
        )
    livekit = _join(
        services, caller, str(room.id), Role.OWNER, rooms.configuration_of(room), username
    )
    return await rooms.room_out(db, room, Role.OWNER, livekit)


@router.post("/rooms/creation-callback/", response_model=CreationCallbackOut, responses=errors(429))
async def creation_callback(
    body: CreationCallback, request: Request, services: ServicesDep
) -> CreationCallbackOut:
    """The room created with this `callback_id`, once; `room` is null before and after."""
    settings = services.settings
    await ratelimit.spend(
        services.kv,
        "creation-callback",
        request.client.host if request.client else "unknown",
        settings.creation_callback_rate_limit_per_minute,
        60,
    )
    room = await callbacks.take(services.kv, body.callback_id)
    return CreationCallbackOut(room=CallbackRoom.model_validate(room) if room else None)


@router.get(
    "/rooms/{room_key:room_key}/",
    response_model=RoomOut,
    response_model_exclude_none=False,
    responses=errors(403, 404),
)
async def get_room(
    room_key: str, db: Db, services: ServicesDep, caller: CallerDep, username: Username = None
) -> RoomOut:
    # The hot path (anyone opening a meeting link): the cached room, no database round
    # trip for anonymous callers; only admins need the full row with its accesses.
    room = await rooms.snapshot(db, services.room_cache, room_key)
    if room is None:
        return _unregistered(room_key, services, caller, username)
    role = await rooms.role_of(db, room.id, caller.user)
    livekit = None
    if policy.may_join(services.settings, room.access_level, caller, role):
        await services.lobby.refuse_banned(str(room.id), caller.identity)
        await capacity.require_room_for(
            services.presence, str(room.id), room.configuration.max_participants, caller.identity
        )
        livekit = _join(services, caller, str(room.id), role, room.configuration, username)
    if role is not None and role.is_admin:
        return await rooms.room_out(db, await rooms.get_or_404(db, room_key), role, livekit)
    return rooms.room_out_from_snapshot(room, livekit)


def _unregistered(
    room_key: str, services: ServicesDep, caller: Caller, username: str | None
) -> RoomOut:
    slug = room_key.lower()
    if not services.settings.allow_unregistered_rooms or not slugs.looks_like_slug(slug):
        raise NotFound("No such room.")
    return RoomOut(
        id=None,
        name=slug,
        slug=slug,
        access_level=AccessLevel.PUBLIC,
        configuration=RoomConfiguration(),
        is_administrable=False,
        livekit=_join(services, caller, slug, None, RoomConfiguration(), username)
        if caller.is_authenticated or services.settings.allow_anonymous
        else None,
    )


async def _admin_room(db: Db, room_key: str, caller: Caller) -> tuple[Room, Role]:
    room = await rooms.get_or_404(db, room_key)
    return room, await rooms.require_admin(db, room, caller)


async def _changed(db: Db, services: ServicesDep, room: Room) -> None:
    """Commits, then tells every process to drop its cached copy of the room."""
    await db.commit()
    await services.broker.publish(ROOMS_CHANNEL, str(room.id))


async def _update(
    room_key: str,
    body: RoomUpdate,
    db: Db,
    services: ServicesDep,
    caller: Caller,
    tasks: BackgroundTasks,
    *,
    partial: bool,
) -> RoomOut:
    room, role = await _admin_room(db, room_key, caller)
    before = live.live_settings(room)
    room = await rooms.update(db, services.settings, room, body, partial=partial)
    if live.live_settings(room) != before:
        # A background task runs after the transaction committed and the answer left.
        tasks.add_task(live.push_metadata, services.livekit, str(room.id), live.room_metadata(room))
    out = await rooms.room_out(db, room, role, None)
    await _changed(db, services, room)
    return out


@router.put("/rooms/{room_key:room_key}/", response_model=RoomOut, responses=errors(401, 403, 404))
async def replace_room(
    room_key: str,
    body: Annotated[RoomUpdate, Body(default_factory=RoomUpdate)],
    db: Db,
    services: ServicesDep,
    caller: UserCaller,
    tasks: BackgroundTasks,
) -> RoomOut:
    return await _update(room_key, body, db, services, caller, tasks, partial=False)


@router.patch(
    "/rooms/{room_key:room_key}/", response_model=RoomOut, responses=errors(401, 403, 404)
)
async def patch_room(
    room_key: str,
    body: Annotated[RoomUpdate, Body(default_factory=RoomUpdate)],
    db: Db,
    services: ServicesDep,
    caller: UserCaller,
    tasks: BackgroundTasks,
) -> RoomOut:
    return await _update(room_key, body, db, services, caller, tasks, partial=True)


@router.delete("/rooms/{room_key:room_key}/", status_code=204, responses=errors(401, 403, 404))
async def delete_room(room_key: str, db: Db, services: ServicesDep, caller: UserCaller) -> Response:
    room, role = await _admin_room(db, room_key, caller)
    if role is not Role.OWNER:
        raise PermissionDenied("Only an owner can delete the room.")
    await rooms.delete(db, room)
    await _changed(db, services, room)
    await services.lobby.clear_room(str(room.id))
    return Response(status_code=204)


@router.get("/resource-accesses/", response_model=Page[AccessOut], responses=errors(401))
async def list_accesses(
    request: Request,
    db: Db,
    caller: UserCaller,
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
async def create_access(body: AccessCreate, db: Db, caller: UserCaller) -> AccessOut:
    access = await accesses.create(db, caller, body.resource, body.user, body.role)
    return rooms.access_out(access)


@router.get(
    "/resource-accesses/{access_id:uuid}/",
    response_model=AccessOut,
    responses=errors(401, 403, 404),
)
async def get_access(access_id: uuid.UUID, db: Db, caller: UserCaller) -> AccessOut:
    return rooms.access_out(await accesses.get(db, caller, access_id))


@router.patch(
    "/resource-accesses/{access_id:uuid}/",
    response_model=AccessOut,
    responses=errors(401, 403, 404, 409),
)
async def update_access(
    access_id: uuid.UUID, body: AccessUpdate, db: Db, caller: UserCaller
) -> AccessOut:
    return rooms.access_out(await accesses.change_role(db, caller, access_id, body.role))


@router.delete(
    "/resource-accesses/{access_id:uuid}/", status_code=204, responses=errors(401, 403, 404, 409)
)
async def delete_access(access_id: uuid.UUID, db: Db, caller: UserCaller) -> Response:
    await accesses.remove(db, caller, access_id)
    return Response(status_code=204)
