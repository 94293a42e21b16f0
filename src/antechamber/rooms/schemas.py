from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    field_validator,
)

from antechamber.request_body import RequestBody
from antechamber.rooms.models import AccessLevel, Role
from antechamber.text import NAME_SCHEMA, clean_name
from antechamber.users.schemas import UserBrief

MAX_PARTICIPANTS = 10_000
Source = Literal["camera", "microphone", "screen_share", "screen_share_audio"]
ALL_SOURCES: tuple[Source, ...] = ("camera", "microphone", "screen_share", "screen_share_audio")
RoomName = Annotated[
    str,
    Field(min_length=1, max_length=500, json_schema_extra=NAME_SCHEMA),
    AfterValidator(clean_name),
]


class RoomConfiguration(RequestBody):
    """What non-admin participants may do. Unknown keys are refused."""

    can_publish_sources: list[Source] = Field(default_factory=lambda: list(ALL_SOURCES))
    everyone_can_mute: StrictBool = True
    # Non-admins' microphones are muted by the server as they join (their first
    # microphone published within `JOIN_MUTE_WINDOW_S` of joining).
    muted_on_join: StrictBool = False
    # At most this many participants at once (null: no cap): refused at every entry
    # (tokens, lobby admissions) with 409, and LiveKit's own max_participants.
    max_participants: StrictInt | None = Field(default=None, ge=1, le=MAX_PARTICIPANTS)

    @field_validator("can_publish_sources")
    @classmethod
    def _unique(cls, sources: list[Source]) -> list[Source]:
        return list(dict.fromkeys(sources))


# What the SDK generates: visible ASCII, no spaces.
CallbackId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[!-~]+$")]


class RoomConfigurationPatch(RequestBody):
    """Keys of the configuration to change (PATCH) or set (PUT); unknown keys refused."""

    can_publish_sources: list[Source] | None = None
    everyone_can_mute: StrictBool | None = None
    muted_on_join: StrictBool | None = None
    # null sent explicitly removes the cap; left out, the cap stays.
    max_participants: StrictInt | None = Field(default=None, ge=1, le=MAX_PARTICIPANTS)

    def given(self) -> dict[str, object]:
        """The keys the client sent: null means "not given", except for the cap, where
        an explicit null means "no cap"."""
        sent = self.model_dump(exclude_unset=True)
        return {k: v for k, v in sent.items() if v is not None or k in NULLABLE_KEYS}


NULLABLE_KEYS = frozenset({"max_participants"})


class RoomCreate(RequestBody):
    name: RoomName
    access_level: AccessLevel | None = None
    configuration: RoomConfiguration | None = None
    # The SDK's popup flow: the room can then be fetched once by `creation-callback/`.
    callback_id: CallbackId | None = None


class CreationCallback(RequestBody):
    callback_id: CallbackId


class CallbackRoom(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    access_level: AccessLevel


class CreationCallbackOut(BaseModel):
    status: Literal["success"] = "success"
    room: CallbackRoom | None


class RoomUpdate(RequestBody):
    """PUT replaces every field given here; PATCH changes only the ones sent, and merges
    `configuration` key by key into the current one."""

    name: RoomName | None = None
    access_level: AccessLevel | None = None
    configuration: RoomConfigurationPatch | None = None


class LiveKitAccess(BaseModel):
    url: str
    room: str
    token: str


class AccessOut(BaseModel):
    id: uuid.UUID
    user: UserBrief
    resource: uuid.UUID
    role: Role


class RoomOut(BaseModel):
    id: uuid.UUID | None
    name: str
    slug: str
    access_level: AccessLevel
    configuration: RoomConfiguration
    is_administrable: bool
    accesses: list[AccessOut] | None = None
    livekit: LiveKitAccess | None = None


class AccessCreate(RequestBody):
    user: uuid.UUID
    resource: uuid.UUID
    role: Role


class AccessUpdate(RequestBody):
    role: Role
