"""The service's LiveKit messages against the SDK's protobuf messages: the same enum
numbers, the same values read from either JSON form, and a permission written back whole."""

from __future__ import annotations

from enum import IntEnum

import pytest
from google.protobuf.json_format import MessageToDict, ParseDict
from livekit.protocol import models as proto
from livekit.protocol import webhook as proto_webhook

from antechamber.errors import InvalidInput
from antechamber.livekit import models
from antechamber.livekit.models import MessageError


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (models.TrackSource, proto.TrackSource),
        (models.TrackType, proto.TrackType),
        (models.ParticipantState, proto.ParticipantInfo.State),
    ],
)
def test_the_enums_have_the_sdks_names_and_numbers(ours: type[IntEnum], theirs: object) -> None:
    assert {m.name: m.value for m in ours} == dict(theirs.items())  # type: ignore[attr-defined]


def _participant() -> proto.ParticipantInfo:
    return proto.ParticipantInfo(
        sid="PA_1",
        identity="alice",
        name="Alice",
        state=proto.ParticipantInfo.State.ACTIVE,
        metadata="m",
        joined_at=1_795_997_013,
        joined_at_ms=1_795_997_013_346,
        attributes={"room_role": "member", "color": "#abcdef"},
        permission=proto.ParticipantPermission(
            can_subscribe=True,
            can_publish=True,
            can_publish_data=False,
            can_publish_sources=[proto.TrackSource.CAMERA, proto.TrackSource.MICROPHONE],
            can_subscribe_metrics=True,
            can_manage_agent_session=True,  # a field the service doesn't model
        ),
        tracks=[
            proto.TrackInfo(
                sid="TR_1",
                type=proto.TrackType.AUDIO,
                source=proto.TrackSource.MICROPHONE,
                muted=True,
                name="mic",
            )
        ],
    )


@pytest.mark.parametrize("proto_names", [True, False], ids=["twirp", "webhook"])
def test_a_participant_reads_the_same_from_either_json_form(proto_names: bool) -> None:
    """The RoomService answers with proto names and every field; webhooks with JSON names
    and only the set fields."""
    sent = _participant()
    data = MessageToDict(
        sent,
        preserving_proto_field_name=proto_names,
        always_print_fields_with_no_presence=proto_names,
    )
    read = models.ParticipantInfo.from_json(data)
    assert (read.sid, read.identity, read.name, read.metadata) == ("PA_1", "alice", "Alice", "m")
    assert read.state is models.ParticipantState.ACTIVE
    assert read.joined_at == 1_795_997_013
    assert read.attributes == {"room_role": "member", "color": "#abcdef"}
    permission = read.permission
    assert permission.can_subscribe is True
    assert permission.can_publish is True
    assert permission.can_publish_data is False
    assert permission.hidden is False
    assert permission.can_subscribe_metrics is True
    assert permission.can_publish_sources == [
        models.TrackSource.CAMERA,
        models.TrackSource.MICROPHONE,
    ]
    [track] = read.tracks
    assert (track.sid, track.name, track.muted) == ("TR_1", "mic", True)
    assert track.type is models.TrackType.AUDIO
    assert track.source is models.TrackSource.MICROPHONE


@pytest.mark.parametrize("proto_names", [True, False], ids=["twirp", "webhook"])
def test_a_permission_is_written_back_whole(proto_names: bool) -> None:
    """LiveKit replaces the whole set: a field the service doesn't model keeps its value,
    and what is written parses strictly as the protocol's message."""
    sent = _participant().permission
    data = MessageToDict(sent, preserving_proto_field_name=proto_names)
    permission = models.ParticipantPermission.from_json(data)
    changed = permission.copy()
    changed.can_publish_sources = [models.TrackSource.SCREEN_SHARE]
    changed.can_publish_data = True
    written = ParseDict(changed.to_json(), proto.ParticipantPermission())  # strict
    assert written.can_manage_agent_session is True
    assert list(written.can_publish_sources) == [proto.TrackSource.SCREEN_SHARE]
    assert written.can_publish_data is True
    assert written.can_subscribe is True
    assert written.can_subscribe_metrics is True
    # The copy is its own: the original is unchanged.
    assert permission.can_publish_sources == [
        models.TrackSource.CAMERA,
        models.TrackSource.MICROPHONE,
    ]
    assert ParseDict(permission.to_json(), proto.ParticipantPermission()) == sent


def test_enums_may_come_as_numbers_and_unknown_ones_read_as_the_default() -> None:
    track = models.TrackInfo.from_json({"source": 3, "type": "VIDEO"})
    assert track.source is models.TrackSource.SCREEN_SHARE
    assert track.type is models.TrackType.VIDEO
    future = models.TrackInfo.from_json({"source": "HOLOGRAM", "type": 9})
    assert future.source is models.TrackSource.UNKNOWN
    assert future.type is models.TrackType.AUDIO
    permission = models.ParticipantPermission.from_json({"canPublishSources": ["CAMERA", 7]})
    assert permission.can_publish_sources == [models.TrackSource.CAMERA]


@pytest.mark.parametrize(
    "data",
    [
        {"identity": 5},
        {"joined_at": "soon"},
        {"joined_at": "\u00b2"},  # a digit to str.isdigit(), not to int()
        {"joined_at": "--5"},
        {"joined_at": "-"},
        {"joined_at": True},
        {"attributes": {"a": 1}},
        {"attributes": ["a"]},
        {"tracks": {"sid": "TR"}},
        {"tracks": ["TR"]},
        {"permission": {"can_publish": "yes"}},
        {"permission": {"can_publish_sources": "CAMERA"}},
        {"state": 2.5},
    ],
)
def test_a_participant_of_the_wrong_shape_is_refused(data: dict[str, object]) -> None:
    with pytest.raises(MessageError):
        models.ParticipantInfo.from_json(data)


def test_a_webhook_event_reads_as_the_sdk_reads_it() -> None:
    event = proto_webhook.WebhookEvent(
        event="participant_joined",
        id="EV_1",
        created_at=1_795_997_013,
        room=proto.Room(sid="RM_1", name="standup", num_participants=2),
        participant=_participant(),
    )
    read = models.WebhookEvent.from_json(MessageToDict(event))
    assert (read.event, read.id, read.created_at) == ("participant_joined", "EV_1", 1_795_997_013)
    assert (read.room.sid, read.room.name, read.room.num_participants) == ("RM_1", "standup", 2)
    assert read.participant.identity == "alice"
    assert read.track == models.TrackInfo()  # absent: the empty message, as with protobuf


@pytest.mark.parametrize("data", [[], "event", {"event": 1}, {"room": "standup"}])
def test_a_body_that_is_not_an_event_is_a_clear_4xx(data: object) -> None:
    with pytest.raises(InvalidInput):
        models.WebhookEvent.from_json(data)
