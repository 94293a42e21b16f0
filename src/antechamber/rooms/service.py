"""Rooms: lookup by id or slug, creation with a unique slug, updates, and roles."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from antechamber.db.session import after_commit, counted_page
from antechamber.errors import InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from antechamber.pubsub import Broker
from antechamber.rooms import slugs
from antechamber.rooms.cache import (
    LOOK_AGAIN,
    ROOMS_CHANNEL,
    LookAgain,
    RoomCache,
    RoomSnapshot,
    created_message,
)
from antechamber.rooms.models import AccessLevel, ResourceAccess, Role, Room
from antechamber.rooms.schemas import (
    AccessOut,
    LiveKitAccess,
    RoomConfiguration,
    RoomCreate,
    RoomOut,
    RoomUpdate,
)
from antechamber.settings import Settings
from antechamber.users.models import User
from antechamber.users.schemas import UserBrief

SLUG_ATTEMPTS = 8


def parse_room_key(key: str) -> uuid.UUID | str | None:
    """A room is addressed by its id or its slug; None when it can be neither."""
    try:
        return uuid.UUID(key)
    except ValueError:
        lowered = key.lower()
        return lowered if slugs.looks_like_slug(lowered) else None


async def find(db: AsyncSession, key: str) -> Room | None:
    parsed = parse_room_key(key)
    if parsed is None:
        return None
    column = Room.id if isinstance(parsed, uuid.UUID) else Room.slug
    return (await db.execute(select(Room).where(column == parsed))).scalar_one_or_none()


async def get_or_404(db: AsyncSession, key: str) -> Room:
    room = await find(db, key)
    if room is None:
        raise NotFound("No such room.")
    return room


async def role_of(db: AsyncSession, room_id: uuid.UUID, user: User | None) -> Role | None:
    if user is None:
        return None
    stmt = select(ResourceAccess.role).where(
        ResourceAccess.room_id == room_id, ResourceAccess.user_id == user.id
    )
    return (await db.execute(stmt)).scalar_one_or_none()


def configuration_of(room: Room) -> RoomConfiguration:
    return RoomConfiguration.model_validate(room.configuration or {})


NOT_LOGGED_IN = "Log in to administer this room."


def _admin(role: Role | None) -> Role:
    if role is None or not role.is_admin:
        raise PermissionDenied("Only the room's owners and administrators may do this.")
    return role


async def require_admin(db: AsyncSession, room_id: uuid.UUID, user: User | None) -> Role:
    if user is None:
        raise NotAuthenticated(NOT_LOGGED_IN)
    return _admin(await role_of(db, room_id, user))


async def require_admin_by_id(
    db: AsyncSession, cache: RoomCache, room_id: uuid.UUID, user_id: uuid.UUID | None
) -> Role:
    """`require_admin` for a user known by id (a login session's), for the admins' polls:
    the user's existence and role in one query, whose yes is kept in the process' room
    cache until the room's accesses change (`accesses_changed`) or `ADMIN_TTL_S` passes.
    Refusals always come from the database."""
    if user_id is None:
        raise NotAuthenticated(NOT_LOGGED_IN)
    cached = cache.admin_role(room_id, user_id)
    if cached is not None:
        return cached
    generation = cache.generation
    found = await db.execute(
        select(User.id, ResourceAccess.role)
        .outerjoin(
            ResourceAccess,
            (ResourceAccess.user_id == User.id) & (ResourceAccess.room_id == room_id),
        )
        .where(User.id == user_id)
    )
    row = found.first()
    if row is None:  # the session outlived its user
        raise NotAuthenticated(NOT_LOGGED_IN)
    role = _admin(row.role)
    cache.put_admin(room_id, user_id, role, generation)
    return role


async def require_owner(db: AsyncSession, room_id: uuid.UUID, user: User | None) -> Role:
    """Only an owner deletes a room (administrators are refused as any other non-owner,
    after the admin check's own answers)."""
    role = await require_admin(db, room_id, user)
    if role is not Role.OWNER:
        raise PermissionDenied("Only an owner can delete the room.")
    return role


async def accesses_of(db: AsyncSession, room_id: uuid.UUID) -> list[ResourceAccess]:
    stmt = (
        select(ResourceAccess)
        .where(ResourceAccess.room_id == room_id)
        .order_by(ResourceAccess.created_at, ResourceAccess.id)
    )
    return list((await db.execute(stmt)).scalars())


def access_out(access: ResourceAccess) -> AccessOut:
    return AccessOut(
        id=access.id, user=UserBrief.of(access.user), resource=access.room_id, role=access.role
    )


async def room_out(
    db: AsyncSession, room: Room, role: Role | None, livekit: LiveKitAccess | None
) -> RoomOut:
    is_admin = role is not None and role.is_admin
    return RoomOut(
        id=room.id,
        name=room.name,
        slug=room.slug,
        access_level=room.access_level,
        configuration=configuration_of(room),
        is_administrable=is_admin,
        accesses=[access_out(a) for a in await accesses_of(db, room.id)] if is_admin else None,
        livekit=livekit,
    )


def room_out_from_snapshot(room: RoomSnapshot, livekit: LiveKitAccess | None) -> RoomOut:
    """A non-admin's view: no accesses, so the cached snapshot is enough."""
    return RoomOut(
        id=room.id,
        name=room.name,
        slug=room.slug,
        access_level=room.access_level,
        configuration=room.configuration,
        is_administrable=False,
        livekit=livekit,
    )


async def create(db: AsyncSession, settings: Settings, owner: User, body: RoomCreate) -> Room:
    base = slugs.slugify(body.name)
    slug = base
    access_level = body.access_level or AccessLevel(settings.default_access_level)
    if access_level.value not in settings.access_levels:
        raise InvalidInput("access_level", _not_offered(settings, access_level))
    for _ in range(SLUG_ATTEMPTS):
        room = Room(
            name=body.name,
            slug=slug,
            access_level=access_level,
            configuration=(body.configuration or RoomConfiguration()).model_dump(),
        )
        try:
            async with db.begin_nested():
                db.add(room)
                await db.flush()
        except IntegrityError:
            slug = slugs.with_suffix(base)
            continue
        db.add(ResourceAccess(room_id=room.id, user_id=owner.id, role=Role.OWNER))
        await db.flush()
        return room
    raise InvalidInput("name", "Could not derive a free slug from this name; choose another.")


def _not_offered(settings: Settings, level: AccessLevel) -> str:
    choices = ", ".join(settings.access_levels)
    return f"This service doesn't offer {level.value} rooms; use one of: {choices}."


def _changed(db: AsyncSession, broker: Broker, room: Room) -> None:
    """Once committed, every process drops its cached copy of the room."""
    accesses_changed(db, broker, room.id)


def accesses_changed(db: AsyncSession, broker: Broker, room_id: uuid.UUID) -> None:
    """Once committed (and before the answer), every process drops what it cached about
    the room: its copy of the room and who administers it. For every change that may take
    an owner's or administrator's rights away (a role changed or removed, the room
    deleted); a new access needs none (only admins' yes answers are cached)."""
    message = str(room_id)
    after_commit(db, lambda: broker.publish(ROOMS_CHANNEL, message))


async def update(
    db: AsyncSession,
    settings: Settings,
    broker: Broker,
    room: Room,
    body: RoomUpdate,
    *,
    partial: bool,
) -> Room:
    if body.access_level is not None and body.access_level.value not in settings.access_levels:
        raise InvalidInput("access_level", _not_offered(settings, body.access_level))
    if body.name is not None:
        room.name = body.name
    if body.access_level is not None:
        room.access_level = body.access_level
    if body.configuration is not None:
        given = body.configuration.given()
        merged: dict[str, Any] = {**room.configuration, **given} if partial else given
        room.configuration = _validated_configuration(merged)
    await db.flush()
    _changed(db, broker, room)
    return room


def _validated_configuration(raw: dict[str, Any]) -> dict[str, Any]:
    try:
        return RoomConfiguration.model_validate(raw).model_dump()
    except ValueError as exc:
        raise InvalidInput("configuration", _first_error(exc)) from exc


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        location = ".".join(str(part) for part in first.get("loc", ()))
        return f"{location}: {first['msg']}" if location else str(first["msg"])
    return str(exc)


async def delete(db: AsyncSession, broker: Broker, room: Room) -> None:
    await db.delete(room)
    await db.flush()
    _changed(db, broker, room)


async def rooms_of(
    db: AsyncSession, user: User, offset: int, limit: int
) -> tuple[int, list[tuple[Room, Role]]]:
    base = (
        select(Room, ResourceAccess.role)
        .join(ResourceAccess)
        .where(ResourceAccess.user_id == user.id)
    )
    count, rows = await counted_page(db, base, (Room.created_at.desc(), Room.id), offset, limit)
    return count, [(room, role) for room, role in rows]


async def snapshot(db: AsyncSession, cache: RoomCache, key: str) -> RoomSnapshot | None:
    """The room as hot paths need it, from the process cache when fresh."""
    cache_key = key.lower()
    cached = cache.get(cache_key)
    if cached is not None:
        return cached
    if cache.is_missing(cache_key):
        return None  # an unregistered room, as fast as a registered one
    # One lookup per key at a time on this process: when an entry expires under load, the
    # requests for it wait for that one query instead of each sending their own.
    pending = cache.loading.get(cache_key)
    if pending is not None:
        shared = await asyncio.shield(pending)
        if not isinstance(shared, LookAgain):
            return shared
    return await _look_up(db, cache, cache_key, key)


async def _look_up(
    db: AsyncSession, cache: RoomCache, cache_key: str, key: str
) -> RoomSnapshot | None:
    answer: asyncio.Future[RoomSnapshot | LookAgain | None]
    answer = asyncio.get_running_loop().create_future()
    cache.loading[cache_key] = answer
    try:
        generation = cache.generation
        room = await find(db, key)
        fresh = None if room is None else RoomSnapshot.of(room)
        if fresh is None:
            cache.put_missing(cache_key, generation)
        else:
            cache.put(cache_key, fresh)
        answer.set_result(fresh)
        return fresh
    finally:
        if not answer.done():  # failed or cancelled: the waiting requests try themselves
            answer.set_result(LOOK_AGAIN)
        if cache.loading.get(cache_key) is answer:
            del cache.loading[cache_key]


def announce_created(db: AsyncSession, cache: RoomCache, broker: Broker, room: Room) -> None:
    """Once committed, every process forgets that this slug (or id) named no room: this
    process at once (the next request may be the creator's own), the others through the
    broker."""
    keys = (room.slug, str(room.id))

    async def announce() -> None:
        for key in keys:
            cache.invalidate(created_message(key))
            await broker.publish(ROOMS_CHANNEL, created_message(key))

    after_commit(db, announce)


async def snapshot_or_404(db: AsyncSession, cache: RoomCache, key: str) -> RoomSnapshot:
    room = await snapshot(db, cache, key)
    if room is None:
        raise NotFound("No such room.")
    return room


async def is_registered_livekit_room(db: AsyncSession, livekit_room: str) -> bool:
    """Whether a LiveKit room name is one of ours (registered rooms are named by their id)."""
    try:
        room_id = uuid.UUID(livekit_room)
    except ValueError:
        return False
    found = await db.execute(select(Room.id).where(Room.id == room_id))
    return found.scalar_one_or_none() is not None


async def registered_livekit_rooms(db: AsyncSession, names: Sequence[str]) -> set[str]:
    """Which of these LiveKit room names are ours, in one query."""
    ids = set()
    for name in names:
        try:
            ids.add(uuid.UUID(name))
        except ValueError:
            continue
    if not ids:
        return set()
    found = await db.execute(select(Room.id).where(Room.id.in_(ids)))
    return {str(room_id) for room_id in found.scalars()}
