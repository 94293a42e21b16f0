"""Moderation endpoints: admins act on participants of a live room; participants on
themselves, proven by their LiveKit token. Every act lands in the room's audit trail."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from antechamber.bans import MAX_BAN_SECONDS
from antechamber.errors import InvalidInput
from antechamber.http.deps import Db, MessageBroker, Moderation, Presence
from antechamber.http.guards import Right, RoomAct, RoomAdmin, room_act
from antechamber.http.openapi import errors
from antechamber.http.pagination import Page, PageParams, make_page, page_params
from antechamber.moderation import audit
from antechamber.moderation.audit import AuditOut
from antechamber.moderation.service import FORBIDDEN_PERMISSIONS, PermissionChange
from antechamber.request_body import RequestBody
from antechamber.rooms.models import Role
from antechamber.text import NAME_PATTERN
from antechamber.tokens.names import MAX_DISPLAY_NAME, clean_display_name

router = APIRouter(tags=["moderation"])
Identity = Annotated[str, Field(min_length=1, max_length=255)]
Pagination = Annotated[PageParams, Depends(page_params)]
SUCCESS = {"status": "success"}

AttributeKey = Annotated[str, Field(min_length=1, max_length=64)]
AttributeValue = Annotated[str, Field(max_length=1000)]
Source = Literal["camera", "microphone", "screen_share", "screen_share_audio"]


class Body(RequestBody):
    """Every moderation request body."""

    def audit(self) -> tuple[str, dict[str, Any]]:
        """The act's target (the participant acted on) and detail (the rest)."""
        detail = self.model_dump()
        return str(detail.pop("participant_identity", "")), detail


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

    def audit(self) -> tuple[str, dict[str, Any]]:
        detail = self.model_dump(exclude_none=True, exclude={"participant_identity"})
        return self.participant_identity, detail


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

    def cleaned(self) -> str:
        name = clean_display_name(self.name, "name")
        assert name is not None
        return name

    def audit(self) -> tuple[str, dict[str, Any]]:
        return "", {"name": self.cleaned()}


class MuteAll(Body):
    # False: also take the microphone away, so they can't unmute (see allow-unmute).
    allow_unmute: StrictBool = True


class AllowUnmute(Body):
    pass


class EndMeeting(Body):
    pass


class SendToLobby(Body):
    participant_identity: Identity


MuteAct = Annotated[RoomAct[Mute], room_act("mute", Mute, Right.MUTER)]
MuteAllAct = Annotated[RoomAct[MuteAll], room_act("mute_all", MuteAll, body_optional=True)]
AllowUnmuteAct = Annotated[
    RoomAct[AllowUnmute], room_act("allow_unmute", AllowUnmute, body_optional=True)
]
UpdateAct = Annotated[RoomAct[Update], room_act("update", Update)]
RemoveAct = Annotated[RoomAct[Remove], room_act("remove", Remove)]
RoleAct = Annotated[RoomAct[RoleChange], room_act("change_role", RoleChange)]
HandAct = Annotated[RoomAct[Hand], room_act("toggle_hand", Hand, Right.PARTICIPANT)]
RenameAct = Annotated[RoomAct[Rename], room_act("rename", Rename, Right.PARTICIPANT)]
EndAct = Annotated[RoomAct[EndMeeting], room_act("end_meeting", EndMeeting, body_optional=True)]
SendToLobbyAct = Annotated[RoomAct[SendToLobby], room_act("send_to_lobby", SendToLobby)]


@router.post("/rooms/{room_key}/mute-participant/", responses=errors(401, 403, 404, 502))
async def mute_participant(act: MuteAct, moderation: Moderation) -> dict[str, str]:
    await moderation.mute(act.room, act.body.participant_identity, act.body.track_sid)
    return SUCCESS


@router.post("/rooms/{room_key}/mute-all/", responses=errors(401, 403, 404, 502))
async def mute_all(act: MuteAllAct, moderation: Moderation) -> dict[str, str | int]:
    """Mutes the microphone of every participant but the owners and administrators."""
    result = await moderation.mute_all(act.room, act.body.allow_unmute)
    act.act.detail.update(participants=result.participants, tracks=result.tracks)
    return {**SUCCESS, "participants": result.participants, "muted_tracks": result.tracks}


@router.post("/rooms/{room_key}/allow-unmute/", responses=errors(401, 403, 404, 502))
async def allow_unmute(act: AllowUnmuteAct, moderation: Moderation) -> dict[str, str | int]:
    """Gives the microphone back to every non-admin after `mute-all` took it away."""
    count = await moderation.allow_unmute(act.room)
    act.act.detail["participants"] = count
    return {**SUCCESS, "participants": count}


@router.post("/rooms/{room_key}/update-participant/", responses=errors(401, 403, 404, 502))
async def update_participant(act: UpdateAct, moderation: Moderation) -> dict[str, str]:
    body = act.body
    if not body.model_fields_set & {"permission", "name", "attributes"}:
        raise InvalidInput("non_field_errors", "Give a permission, a name or attributes.")
    await moderation.update(
        act.room,
        body.participant_identity,
        body.permission.change() if body.permission is not None else None,
        clean_display_name(body.name, "name"),
        body.attributes,
    )
    return SUCCESS


@router.post("/rooms/{room_key}/remove-participant/", responses=errors(401, 403, 404, 502))
async def remove_participant(act: RemoveAct, moderation: Moderation) -> dict[str, str]:
    await moderation.remove(act.room, act.body.participant_identity, act.body.ban_seconds)
    return SUCCESS


@router.post("/rooms/{room_key}/update-participant-role/", responses=errors(401, 403, 404))
async def update_participant_role(
    act: RoleAct, db: Db, broker: MessageBroker, moderation: Moderation
) -> dict[str, str]:
    assert act.user is not None
    target, role = act.body.participant_identity, Role(act.body.role)
    await moderation.change_role(db, broker, act.room, act.user, target, role)
    return SUCCESS


@router.post("/rooms/{room_key}/toggle-hand/", responses=errors(401, 403, 404, 502))
async def toggle_hand(act: HandAct, moderation: Moderation) -> dict[str, str]:
    assert act.participant is not None
    await moderation.toggle_hand(act.room, act.participant, act.body.raised)
    return SUCCESS


@router.post("/rooms/{room_key}/rename/", responses=errors(401, 403, 404, 502))
async def rename(act: RenameAct, moderation: Moderation) -> dict[str, str]:
    assert act.participant is not None
    await moderation.rename(act.room, act.participant, act.body.cleaned())
    return SUCCESS


@router.post("/rooms/{room_key}/end-meeting/", responses=errors(401, 403, 404, 502))
async def end_meeting(act: EndAct, moderation: Moderation) -> dict[str, str]:
    await moderation.end_meeting(act.room)
    return SUCCESS


@router.post("/rooms/{room_key}/send-to-lobby/", responses=errors(400, 401, 403, 404, 502))
async def send_to_lobby(act: SendToLobbyAct, moderation: Moderation) -> dict[str, str]:
    place = await moderation.send_to_lobby(act.room, act.body.participant_identity)
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
async def live_participants(admin: RoomAdmin, presence: Presence) -> LiveParticipants:
    """Who is in the live room, as webhooks and the reconciliation with LiveKit keep it
    (oldest first)."""
    listed = await presence.participants(str(admin.room.id))
    return LiveParticipants(
        count=len(listed),
        participants=[LiveParticipant(**vars(p)) for p in listed],
    )


@router.get(
    "/rooms/{room_key}/audit/", responses=errors(401, 403, 404), response_model=Page[AuditOut]
)
async def audit_trail(
    admin: RoomAdmin, request: Request, db: Db, pagination: Pagination
) -> Page[AuditOut]:
    page = await audit.records_of(db, admin.room.id, pagination.offset, pagination.page_size)
    count, records = page
    return make_page(request, pagination, count, [AuditOut.of(r) for r in records])
