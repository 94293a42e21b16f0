"""Moderation endpoints: admins act on participants of a live room; participants on
themselves, proven by their LiveKit token. Every act lands in the room's audit trail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi import Body as BodyParam
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from antechamber.container import Services
from antechamber.errors import InvalidInput, NotAuthenticated, PermissionDenied
from antechamber.http.body import RequestBody
from antechamber.http.deps import Db, OptionalUser, ServicesDep, UserCaller
from antechamber.http.openapi import errors
from antechamber.http.pagination import Page, PageParams, make_page, page_params
from antechamber.moderation import audit
from antechamber.moderation.audit import Act, Actor, AuditOut
from antechamber.moderation.bans import MAX_BAN_SECONDS
from antechamber.moderation.service import FORBIDDEN_PERMISSIONS, PermissionChange
from antechamber.rooms import service as rooms
from antechamber.rooms.models import Role, Room
from antechamber.text import NAME_PATTERN
from antechamber.tokens.service import MAX_DISPLAY_NAME, clean_display_name
from antechamber.users.models import User

router = APIRouter(tags=["moderation"])
Authorization = Annotated[str | None, Header(max_length=10_000)]
Identity = Annotated[str, Field(min_length=1, max_length=255)]
Pagination = Annotated[PageParams, Depends(page_params)]
SUCCESS = {"status": "success"}

AttributeKey = Annotated[str, Field(min_length=1, max_length=64)]
AttributeValue = Annotated[str, Field(max_length=1000)]
Source = Literal["camera", "microphone", "screen_share", "screen_share_audio"]


class Body(RequestBody):
    """Every moderation request body."""


class Mute(Body):
    participant_identity: Identity
    track_sid: str = Field(min_length=1, max_length=255)


class Permission(Body):
    can_subscribe: StrictBool | None = None
    can_publish: StrictBool | None = None
    can_publish_data: StrictBool | None = None
    can_publish_sources: list[Source] | None = Field(default=None, max_length=4)
    can_subscribe_metrics: StrictBool | None = None
    # Never granted here: accepted only as false, null or the participant's current value.
    hidden: StrictBool | None = None
    recorder: StrictBool | None = None
    agent: StrictBool | None = None
    can_update_metadata: StrictBool | None = None

    def change(self) -> PermissionChange:
        values = self.model_dump()
        forbidden = {name: values.pop(name) for name in FORBIDDEN_PERMISSIONS}
        return PermissionChange(**values, forbidden=forbidden)


class Update(Body):
    # At least one of permission, name, attributes (null ones change nothing).
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [{"required": [key]} for key in ("permission", "name", "attributes")]
        },
    )

    participant_identity: Identity
    permission: Permission | None = None
    name: str | None = Field(
        default=None, max_length=MAX_DISPLAY_NAME, json_schema_extra={"pattern": NAME_PATTERN}
    )
    attributes: dict[AttributeKey, AttributeValue] | None = Field(default=None, max_length=20)


class Remove(Body):
    participant_identity: Identity
    ban_seconds: StrictInt | None = Field(default=None, ge=1, le=MAX_BAN_SECONDS)


class RoleChange(Body):
    participant_identity: Identity
    role: Literal["member", "administrator"]


class Hand(Body):
    raised: StrictBool


class Rename(Body):
    name: str = Field(max_length=MAX_DISPLAY_NAME, json_schema_extra={"pattern": NAME_PATTERN})


class MuteAll(Body):
    # False: also take the microphone away, so they can't unmute (see allow-unmute).
    allow_unmute: StrictBool = True


class AllowUnmute(Body):
    pass


class EndMeeting(Body):
    pass


class SendToLobby(Body):
    participant_identity: Identity


@asynccontextmanager
async def _act(
    services: Services, room: Room, user: User | None, action: str, target: str = "", **detail: Any
) -> AsyncIterator[Act]:
    async with audit.audited(
        services.sessionmaker, room.id, Act(Actor.of(user), action, target, detail)
    ) as act:
        yield act


@router.post("/rooms/{room_key}/mute-participant/", responses=errors(401, 403, 404, 502))
async def mute_participant(
    room_key: str,
    body: Mute,
    db: Db,
    services: ServicesDep,
    user: OptionalUser,
    authorization: Authorization = None,
) -> dict[str, str]:
    room = await rooms.get_or_404(db, room_key)
    target = body.participant_identity
    async with _act(services, room, user, "mute", target, track_sid=body.track_sid) as act:
        role = await rooms.role_of(db, room.id, user)
        if role is None or not role.is_admin:
            if not rooms.configuration_of(room).everyone_can_mute:
                if user is None:
                    raise NotAuthenticated("Log in to administer this room.")
                raise PermissionDenied("Only the room's owners and administrators may do this.")
            who = await services.moderation.participant(room, authorization)
            act.actor.identity = who.identity
        await services.moderation.mute(room, target, body.track_sid)
    return SUCCESS


@router.post("/rooms/{room_key}/mute-all/", responses=errors(401, 403, 404, 502))
async def mute_all(
    room_key: str,
    db: Db,
    services: ServicesDep,
    caller: UserCaller,
    body: Annotated[MuteAll, BodyParam(default_factory=MuteAll)],
) -> dict[str, str | int]:
    """Mutes the microphone of every participant but the owners and administrators."""
    room = await rooms.get_or_404(db, room_key)
    allow_unmute = body.allow_unmute
    async with _act(services, room, caller.user, "mute_all", allow_unmute=allow_unmute) as act:
        await rooms.require_admin(db, room, caller)
        result = await services.moderation.mute_all(room, allow_unmute)
        act.detail.update(participants=result.participants, tracks=result.tracks)
    return {**SUCCESS, "participants": result.participants, "muted_tracks": result.tracks}


@router.post("/rooms/{room_key}/allow-unmute/", responses=errors(401, 403, 404, 502))
async def allow_unmute(
    room_key: str,
    db: Db,
    services: ServicesDep,
    caller: UserCaller,
    body: Annotated[AllowUnmute, BodyParam(default_factory=AllowUnmute)],
) -> dict[str, str | int]:
    """Gives the microphone back to every non-admin after `mute-all` took it away."""
    room = await rooms.get_or_404(db, room_key)
    async with _act(services, room, caller.user, "allow_unmute") as act:
        await rooms.require_admin(db, room, caller)
        count = await services.moderation.allow_unmute(room)
        act.detail["participants"] = count
    return {**SUCCESS, "participants": count}


@router.post("/rooms/{room_key}/update-participant/", responses=errors(401, 403, 404, 502))
async def update_participant(
    room_key: str, body: Update, db: Db, services: ServicesDep, caller: UserCaller
) -> dict[str, str]:
    room = await rooms.get_or_404(db, room_key)
    detail = body.model_dump(exclude_none=True, exclude={"participant_identity"})
    async with _act(services, room, caller.user, "update", body.participant_identity, **detail):
        await rooms.require_admin(db, room, caller)
        if not body.model_fields_set & {"permission", "name", "attributes"}:
            raise InvalidInput("non_field_errors", "Give a permission, a name or attributes.")
        await services.moderation.update(
            room,
            body.participant_identity,
            body.permission.change() if body.permission is not None else None,
            clean_display_name(body.name, "name"),
            body.attributes,
        )
    return SUCCESS


@router.post("/rooms/{room_key}/remove-participant/", responses=errors(401, 403, 404, 502))
async def remove_participant(
    room_key: str, body: Remove, db: Db, services: ServicesDep, caller: UserCaller
) -> dict[str, str]:
    room = await rooms.get_or_404(db, room_key)
    target = body.participant_identity
    async with _act(services, room, caller.user, "remove", target, ban_seconds=body.ban_seconds):
        await rooms.require_admin(db, room, caller)
        await services.moderation.remove(room, target, body.ban_seconds)
    return SUCCESS


@router.post("/rooms/{room_key}/update-participant-role/", responses=errors(401, 403, 404))
async def update_participant_role(
    room_key: str, body: RoleChange, db: Db, services: ServicesDep, caller: UserCaller
) -> dict[str, str]:
    room = await rooms.get_or_404(db, room_key)
    target = body.participant_identity
    async with _act(services, room, caller.user, "change_role", target, role=body.role):
        await rooms.require_admin(db, room, caller)
        assert caller.user is not None
        await services.moderation.change_role(db, room, caller.user, target, Role(body.role))
    return SUCCESS


@router.post("/rooms/{room_key}/toggle-hand/", responses=errors(401, 403, 404, 502))
async def toggle_hand(
    room_key: str, body: Hand, db: Db, services: ServicesDep, authorization: Authorization = None
) -> dict[str, str]:
    room = await rooms.get_or_404(db, room_key)
    async with _act(services, room, None, "toggle_hand", raised=body.raised) as act:
        who = await services.moderation.participant(room, authorization)
        act.actor.identity = act.target = who.identity
        await services.moderation.toggle_hand(room, who, body.raised)
    return SUCCESS


@router.post("/rooms/{room_key}/rename/", responses=errors(401, 403, 404, 502))
async def rename(
    room_key: str, body: Rename, db: Db, services: ServicesDep, authorization: Authorization = None
) -> dict[str, str]:
    room = await rooms.get_or_404(db, room_key)
    name = clean_display_name(body.name, "name")
    assert name is not None
    async with _act(services, room, None, "rename", name=name) as act:
        who = await services.moderation.participant(room, authorization)
        act.actor.identity = act.target = who.identity
        await services.moderation.rename(room, who, name)
    return SUCCESS


@router.post("/rooms/{room_key}/end-meeting/", responses=errors(401, 403, 404, 502))
async def end_meeting(
    room_key: str,
    db: Db,
    services: ServicesDep,
    caller: UserCaller,
    body: Annotated[EndMeeting, BodyParam(default_factory=EndMeeting)],
) -> dict[str, str]:
    room = await rooms.get_or_404(db, room_key)
    async with _act(services, room, caller.user, "end_meeting"):
        await rooms.require_admin(db, room, caller)
        await services.moderation.end_meeting(room)
    return SUCCESS


@router.post("/rooms/{room_key}/send-to-lobby/", responses=errors(400, 401, 403, 404, 502))
async def send_to_lobby(
    room_key: str, body: SendToLobby, db: Db, services: ServicesDep, caller: UserCaller
) -> dict[str, str]:
    room = await rooms.get_or_404(db, room_key)
    async with _act(services, room, caller.user, "send_to_lobby", body.participant_identity):
        await rooms.require_admin(db, room, caller)
        place = await services.moderation.send_to_lobby(room, body.participant_identity)
    return {**SUCCESS, "participant_id": place}


class LiveParticipant(BaseModel):
    identity: str
    sid: str
    name: str
    joined_at: int


class LiveParticipants(BaseModel):
    count: int
    participants: list[LiveParticipant]


@router.get(
    "/rooms/{room_key}/participants/",
    responses=errors(401, 403, 404),
    response_model=LiveParticipants,
)
async def live_participants(
    room_key: str, db: Db, services: ServicesDep, caller: UserCaller
) -> LiveParticipants:
    """Who is in the live room, as webhooks and the reconciliation with LiveKit keep it
    (oldest first)."""
    room = await rooms.get_or_404(db, room_key)
    await rooms.require_admin(db, room, caller)
    listed = await services.presence.participants(str(room.id))
    return LiveParticipants(
        count=len(listed),
        participants=[LiveParticipant(**vars(p)) for p in listed],
    )


@router.get(
    "/rooms/{room_key}/audit/", responses=errors(401, 403, 404), response_model=Page[AuditOut]
)
async def audit_trail(
    room_key: str, request: Request, db: Db, caller: UserCaller, pagination: Pagination
) -> Page[AuditOut]:
    room = await rooms.get_or_404(db, room_key)
    await rooms.require_admin(db, room, caller)
    count, records = await audit.records_of(db, room.id, pagination.offset, pagination.page_size)
    return make_page(request, pagination, count, [AuditOut.of(r) for r in records])
