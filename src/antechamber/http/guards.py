"""Authorization, declared on the route: a guard fetches the room (or 404), opens the
audit record of the act where there is one (so a refused attempt is recorded too, with
its outcome), and requires the caller's right. A route's body is then only its action.

- `RoomAdmin`, `RoomOwner`: the room's owners and administrators (owners);
  `admin_snapshot`: the cached room, for them.
- `room_act(action, Body)`: an audited act. `admin` (default): owners and administrators;
  `participant`: a participant proven by its LiveKit token, acting on itself; `muter`:
  whoever moderation lets mute in this room (`ModerationService.muter`).

Audited acts are yield dependencies closed when the route returns (scope "function"):
a refusal or failure is recorded at once, a success right after the request's
transaction commits; either before the answer is sent.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Protocol, TypeVar

from fastapi import Body, Depends, Header
from sqlalchemy.ext.asyncio import AsyncSession

from antechamber.http.deps import CurrentUser, Db, Moderation, OptionalUser, Sessionmaker
from antechamber.moderation import audit
from antechamber.moderation.audit import Act, Actor
from antechamber.moderation.service import Participant
from antechamber.rooms import service as rooms
from antechamber.rooms.cache import RoomCache, RoomSnapshot
from antechamber.rooms.models import Role, Room
from antechamber.users.models import User


class AuditedBody(Protocol):
    def audit(self) -> tuple[str, dict[str, Any]]:
        """The act's target and detail, as the audit trail records them."""
        ...


B = TypeVar("B", bound=AuditedBody)


@dataclass(frozen=True)
class AdminRoom:
    room: Room
    role: Role
    user: User


async def room_admin(room_key: str, db: Db, user: CurrentUser) -> AdminRoom:
    room = await rooms.get_or_404(db, room_key)
    return AdminRoom(room, await rooms.require_admin(db, room.id, user), user)


RoomAdmin = Annotated[AdminRoom, Depends(room_admin)]


async def room_owner(room_key: str, db: Db, user: CurrentUser) -> AdminRoom:
    room = await rooms.get_or_404(db, room_key)
    return AdminRoom(room, await rooms.require_owner(db, room.id, user), user)


RoomOwner = Annotated[AdminRoom, Depends(room_owner)]


async def admin_snapshot(
    db: AsyncSession, cache: RoomCache, room_key: str, user: User | None
) -> RoomSnapshot:
    """The cached room, for its admins (the hot admin paths: the waiting list, its stream)."""
    room = await rooms.snapshot_or_404(db, cache, room_key)
    await rooms.require_admin(db, room.id, user)
    return room


class Right(enum.Enum):
    ADMIN = "admin"
    PARTICIPANT = "participant"  # proven by its LiveKit token; acts on itself
    MUTER = "muter"


@dataclass(frozen=True)
class RoomAct(Generic[B]):
    room: Room
    body: B
    act: Act  # the open audit record; a route may add to its detail
    user: User | None
    participant: Participant | None  # the caller, when proven by its LiveKit token


def room_act(
    action: str,
    body: type[B],
    right: Right = Right.ADMIN,
    *,
    login_first: bool = True,
    body_optional: bool = False,
) -> Any:
    """`login_first` (admin acts): an anonymous caller is refused (401) before anything
    else, without a record; otherwise the room comes first (404) and the refusal is
    recorded."""

    async def guard(
        room_key: str,
        db: Db,
        sessionmaker: Sessionmaker,
        moderation: Moderation,
        body: Any,
        user: User | None = None,
        authorization: str | None = None,
    ) -> AsyncIterator[RoomAct[B]]:
        room = await rooms.get_or_404(db, room_key)
        target, detail = body.audit()
        act = Act(Actor.of(user), action, target, detail)
        async with audit.audited(sessionmaker, db, room.id, act):
            participant = None
            if right is Right.ADMIN:
                await rooms.require_admin(db, room.id, user)
            elif right is Right.MUTER:
                participant = await moderation.muter(db, room, user, authorization)
            else:
                participant = await moderation.participant(room, authorization)
                act.target = participant.identity
            if participant is not None:
                act.actor.identity = participant.identity
            yield RoomAct(room, body, act, user, participant)

    body_type: Any = Annotated[body, Body(default_factory=body)] if body_optional else body
    user_type: Any = CurrentUser if login_first and right is Right.ADMIN else OptionalUser
    wanted = {
        "room_key": None,
        "db": None,
        "sessionmaker": None,
        "moderation": None,
        "body": body_type,
        "user": None if right is Right.PARTICIPANT else user_type,
        "authorization": None if right is Right.ADMIN else AuthorizationHeader,
    }
    signature = inspect.signature(guard)
    parameters = [
        _annotated(p, wanted[p.name])
        for p in signature.parameters.values()
        if p.name not in ("user", "authorization") or wanted[p.name] is not None
    ]
    guard.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    return Depends(guard, scope="function")


def _annotated(parameter: inspect.Parameter, annotation: Any) -> inspect.Parameter:
    if annotation is None:
        return parameter
    if parameter.name == "authorization":
        return parameter.replace(annotation=annotation)
    return parameter.replace(annotation=annotation, default=inspect.Parameter.empty)


AuthorizationHeader = Annotated[str | None, Header(max_length=10_000)]
