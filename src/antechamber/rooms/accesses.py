"""Role management on a room: only admins manage roles, only an owner grants or removes
`owner`, and the last owner always stays."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from antechamber.auth.caller import Caller
from antechamber.db.session import counted_page
from antechamber.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied
from antechamber.pubsub import Broker
from antechamber.rooms import service as rooms
from antechamber.rooms.models import ResourceAccess, Role, Room
from antechamber.users.models import User


def _user(caller: Caller) -> User:
    if caller.user is None:
        raise NotAuthenticated("Log in to manage roles.")
    return caller.user


async def list_for(
    db: AsyncSession, caller: Caller, resource: uuid.UUID | None, offset: int, limit: int
) -> tuple[int, list[ResourceAccess]]:
    """Accesses of every room the caller administers (optionally one of them)."""
    user = _user(caller)
    administered = select(ResourceAccess.room_id).where(
        ResourceAccess.user_id == user.id,
        ResourceAccess.role.in_([Role.OWNER, Role.ADMINISTRATOR]),
    )
    stmt = select(ResourceAccess).where(ResourceAccess.room_id.in_(administered))
    if resource is not None:
        stmt = stmt.where(ResourceAccess.room_id == resource)
    order = (ResourceAccess.created_at, ResourceAccess.id)
    count, page = await counted_page(db, stmt, order, offset, limit)
    return count, list(page.scalars())


async def _administered_access(
    db: AsyncSession, caller: Caller, access_id: uuid.UUID
) -> tuple[ResourceAccess, Role]:
    user = _user(caller)
    access = await db.get(ResourceAccess, access_id)
    if access is None:
        raise NotFound("No such access.")
    caller_role = await rooms.role_of(db, access.room_id, user)
    if caller_role is None:
        raise NotFound("No such access.")
    if not caller_role.is_admin:
        raise PermissionDenied("Only the room's owners and administrators manage roles.")
    return access, caller_role


async def get(db: AsyncSession, caller: Caller, access_id: uuid.UUID) -> ResourceAccess:
    access, _ = await _administered_access(db, caller, access_id)
    return access


async def create(
    db: AsyncSession, caller: Caller, room_id: uuid.UUID, user_id: uuid.UUID, role: Role
) -> ResourceAccess:
    room = await db.get(Room, room_id)
    if room is None:
        raise NotFound("No such room.")
    caller_role = await rooms.require_admin(db, room.id, caller.user)
    if role is Role.OWNER and caller_role is not Role.OWNER:
        raise PermissionDenied("Only an owner can make someone an owner.")
    if await db.get(User, user_id) is None:
        raise NotFound("No such user.")
    access = ResourceAccess(room_id=room_id, user_id=user_id, role=role)
    try:
        async with db.begin_nested():
            db.add(access)
            await db.flush()
    except IntegrityError as exc:
        raise Conflict("This user already has a role on this room.") from exc
    await db.refresh(access, ["user"])
    return access


async def change_role(
    db: AsyncSession, broker: Broker, caller: Caller, access_id: uuid.UUID, role: Role
) -> ResourceAccess:
    access, caller_role = await _administered_access(db, caller, access_id)
    if Role.OWNER in (role, access.role) and caller_role is not Role.OWNER:
        raise PermissionDenied("Only an owner can grant or remove the owner role.")
    if access.role is Role.OWNER and role is not Role.OWNER:
        await _keep_an_owner(db, access.room_id)
    access.role = role
    await db.flush()
    rooms.accesses_changed(db, broker, access.room_id)
    return access


async def remove(db: AsyncSession, broker: Broker, caller: Caller, access_id: uuid.UUID) -> None:
    access, caller_role = await _administered_access(db, caller, access_id)
    if access.role is Role.OWNER:
        if caller_role is not Role.OWNER:
            raise PermissionDenied("Only an owner can remove an owner.")
        await _keep_an_owner(db, access.room_id)
    await db.delete(access)
    await db.flush()
    rooms.accesses_changed(db, broker, access.room_id)


async def _keep_an_owner(db: AsyncSession, room_id: uuid.UUID) -> None:
    # Lock the room's owner rows (PostgreSQL) so two owners can't demote each other at once.
    stmt = (
        select(ResourceAccess.id)
        .where(ResourceAccess.room_id == room_id, ResourceAccess.role == Role.OWNER)
        .with_for_update()
    )
    owners = list((await db.execute(stmt)).scalars())
    if len(owners) <= 1:
        raise Conflict("A room keeps at least one owner.")


async def set_role_by_user(
    db: AsyncSession, broker: Broker, room: Room, user: User, role: Role
) -> ResourceAccess:
    """Used by moderation: give `user` the role on the room, creating the access if needed."""
    stmt = select(ResourceAccess).where(
        ResourceAccess.room_id == room.id, ResourceAccess.user_id == user.id
    )
    access = (await db.execute(stmt)).scalar_one_or_none()
    if access is None:
        access = ResourceAccess(room_id=room.id, user_id=user.id, role=role)
        db.add(access)
    else:
        access.role = role
    await db.flush()
    rooms.accesses_changed(db, broker, room.id)
    return access
