"""The LiveKit messages the service reads and writes, as plain dataclasses.

They carry the fields of LiveKit's protobuf messages (`livekit_models.proto`,
`livekit_webhook.proto`) that the service uses, under the same names, with the enums'
numbers, so they compare equal to the SDK's values (`TrackSource.MICROPHONE == 2`). They
are read from LiveKit's JSON: its RoomService answers with the proto field names
(`joined_at`) and webhooks with their JSON names (`joinedAt`); both are read, as any
protobuf JSON reader does. 64-bit integers come as strings, enums as their names (or
numbers). Fields not listed here are ignored, except in a permission, which is written
back whole (LiveKit replaces the set): its other fields are kept as received.

Reading them needs no protobuf: the SDK's `livekit.protocol` costs a worker ~15 MiB
(bench/README.md, "Worker memory").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, TypeVar

from antechamber.errors import InvalidInput

E = TypeVar("E", bound=IntEnum)
S = TypeVar("S", str, bool)


class TrackSource(IntEnum):
    UNKNOWN = 0
    CAMERA = 1
    MICROPHONE = 2
    SCREEN_SHARE = 3
    SCREEN_SHARE_AUDIO = 4


class TrackType(IntEnum):
    AUDIO = 0
    VIDEO = 1
    DATA = 2


class ParticipantState(IntEnum):
    JOINING = 0
    JOINED = 1
    ACTIVE = 2
    DISCONNECTED = 3


class MessageError(ValueError):
    """A LiveKit message that doesn't have the shape of its type."""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _get(data: Mapping[str, Any], name: str) -> Any:
    value = data.get(name)
    return data.get(_camel(name)) if value is None else value


def _scalar(data: Mapping[str, Any], name: str, kind: type[S], default: S, noun: str) -> S:
    value = _get(data, name)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise MessageError(f"{name} is not {noun}")
    return value


def _str(data: Mapping[str, Any], name: str) -> str:
    return _scalar(data, name, str, "", "a string")


def _bool(data: Mapping[str, Any], name: str) -> bool:
    return _scalar(data, name, bool, False, "a boolean")


def _int(data: Mapping[str, Any], name: str) -> int:
    """An integer, which protobuf's JSON writes as a string when it has 64 bits."""
    value = _get(data, name)
    if value is None:
        return 0
    digits = value[1:] if isinstance(value, str) and value[:1] == "-" else value
    if isinstance(digits, str) and digits.isascii() and digits.isdigit() and len(digits) <= 20:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise MessageError(f"{name} is not an integer")


def _enum_value(kind: type[E], value: Any, name: str) -> E | None:
    """The member for a name or number; None for one this version doesn't know."""
    if isinstance(value, str):
        return kind.__members__.get(value)
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return kind(value)
        except ValueError:
            return None
    raise MessageError(f"{name} is not a {kind.__name__}")


def _enum(data: Mapping[str, Any], name: str, kind: type[E]) -> E:
    value = _get(data, name)
    member = None if value is None else _enum_value(kind, value, name)
    return kind(0) if member is None else member


def object_at(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """The object under `name` ({} when absent); MessageError when it isn't one."""
    value = _get(data, name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MessageError(f"{name} is not an object")
    return value


def _list(data: Mapping[str, Any], name: str) -> list[Any]:
    value = _get(data, name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MessageError(f"{name} is not a list")
    return value


def _strings(data: Mapping[str, Any], name: str) -> dict[str, str]:
    value = object_at(data, name)
    if not all(isinstance(v, str) for v in value.values()):
        raise MessageError(f"{name} is not a map of strings")
    return dict(value)


def objects_at(data: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """The list of objects under `name` ([] when absent); MessageError otherwise."""
    items = _list(data, name)
    if not all(isinstance(item, dict) for item in items):
        raise MessageError(f"{name} is not a list of objects")
    return items


@dataclass(slots=True)
class Room:
    sid: str = ""
    name: str = ""
    metadata: str = ""
    num_participants: int = 0
    max_participants: int = 0
    empty_timeout: int = 0
    departure_timeout: int = 0
    creation_time: int = 0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Room:
        return cls(
            sid=_str(data, "sid"),
            name=_str(data, "name"),
            metadata=_str(data, "metadata"),
            num_participants=_int(data, "num_participants"),
            max_participants=_int(data, "max_participants"),
            empty_timeout=_int(data, "empty_timeout"),
            departure_timeout=_int(data, "departure_timeout"),
            creation_time=_int(data, "creation_time"),
        )


@dataclass(slots=True)
class TrackInfo:
    sid: str = ""
    type: TrackType = TrackType.AUDIO
    name: str = ""
    muted: bool = False
    source: TrackSource = TrackSource.UNKNOWN

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrackInfo:
        return cls(
            sid=_str(data, "sid"),
            type=_enum(data, "type", TrackType),
            name=_str(data, "name"),
            muted=_bool(data, "muted"),
            source=_enum(data, "source", TrackSource),
        )


_PERMISSION_FLAGS = (
    "can_subscribe",
    "can_publish",
    "can_publish_data",
    "hidden",
    "recorder",
    "can_update_metadata",
    "agent",
    "can_subscribe_metrics",
)
_PERMISSION_FIELDS = frozenset(
    name for flag in (*_PERMISSION_FLAGS, "can_publish_sources") for name in (flag, _camel(flag))
)


@dataclass(slots=True)
class ParticipantPermission:
    can_subscribe: bool = False
    can_publish: bool = False
    can_publish_data: bool = False
    can_publish_sources: list[TrackSource] = field(default_factory=list)
    hidden: bool = False
    recorder: bool = False
    can_update_metadata: bool = False
    agent: bool = False
    can_subscribe_metrics: bool = False
    # The permission's other fields, as LiveKit sent them, written back unchanged.
    others: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ParticipantPermission:
        sources = []
        for value in _list(data, "can_publish_sources"):
            source = _enum_value(TrackSource, value, "can_publish_sources")
            if source is not None:  # a source this version doesn't know can't be kept
                sources.append(source)
        return cls(
            **{flag: _bool(data, flag) for flag in _PERMISSION_FLAGS},
            can_publish_sources=sources,
            others={k: v for k, v in data.items() if k not in _PERMISSION_FIELDS},
        )

    def to_json(self) -> dict[str, Any]:
        """The whole set, as LiveKit reads it."""
        return {
            **self.others,
            **{flag: getattr(self, flag) for flag in _PERMISSION_FLAGS},
            "can_publish_sources": [source.name for source in self.can_publish_sources],
        }

    def copy(self) -> ParticipantPermission:
        return ParticipantPermission.from_json(self.to_json())


@dataclass(slots=True)
class ParticipantInfo:
    sid: str = ""
    identity: str = ""
    name: str = ""
    state: ParticipantState = ParticipantState.JOINING
    metadata: str = ""
    joined_at: int = 0
    attributes: dict[str, str] = field(default_factory=dict)
    permission: ParticipantPermission = field(default_factory=ParticipantPermission)
    tracks: list[TrackInfo] = field(default_factory=list)

    # The protobuf message's name for the enum, so `ParticipantInfo.State.ACTIVE` reads
    # as it does with the SDK.
    State = ParticipantState

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ParticipantInfo:
        return cls(
            sid=_str(data, "sid"),
            identity=_str(data, "identity"),
            name=_str(data, "name"),
            state=_enum(data, "state", ParticipantState),
            metadata=_str(data, "metadata"),
            joined_at=_int(data, "joined_at"),
            attributes=_strings(data, "attributes"),
            permission=ParticipantPermission.from_json(object_at(data, "permission")),
            tracks=[TrackInfo.from_json(track) for track in objects_at(data, "tracks")],
        )


@dataclass(slots=True)
class WebhookEvent:
    event: str = ""
    id: str = ""
    created_at: int = 0
    room: Room = field(default_factory=Room)
    participant: ParticipantInfo = field(default_factory=ParticipantInfo)
    track: TrackInfo = field(default_factory=TrackInfo)

    @classmethod
    def from_json(cls, data: Any) -> WebhookEvent:
        """The event, or InvalidInput when the body isn't one."""
        try:
            if not isinstance(data, dict):
                raise MessageError("not an object")
            return cls(
                event=_str(data, "event"),
                id=_str(data, "id"),
                created_at=_int(data, "created_at"),
                room=Room.from_json(object_at(data, "room")),
                participant=ParticipantInfo.from_json(object_at(data, "participant")),
                track=TrackInfo.from_json(object_at(data, "track")),
            )
        except MessageError as exc:
            raise InvalidInput(
                "body", f"The webhook's body is not a LiveKit event: {exc}."
            ) from exc
