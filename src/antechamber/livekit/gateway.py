"""The RoomService calls the service makes, as a small protocol.

Everything above this layer (lobby, moderation, webhooks, rooms) codes against
`LiveKitGateway`; `TwirpLiveKitGateway` is the one real implementation. Its errors are
domain errors: NotFound when LiveKit has no such room, participant or track,
UpstreamUnavailable when LiveKit can't be reached in time, UpstreamError otherwise.

The types are the service's own dataclasses of LiveKit's messages (`models.py`), with
the fields and enum numbers of the SDK's protobuf messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from antechamber.livekit.models import (
    ParticipantInfo,
    ParticipantPermission,
    Room,
    TrackInfo,
)

__all__ = [
    "LiveKitGateway",
    "ParticipantInfo",
    "ParticipantPermission",
    "Room",
    "TrackInfo",
]


class LiveKitGateway(Protocol):
    async def list_rooms(self, names: Sequence[str] = ()) -> list[Room]:
        """The live rooms (only those named, when names are given)."""
        ...

    async def list_participants(self, room: str) -> list[ParticipantInfo]: ...

    async def get_participant(self, room: str, identity: str) -> ParticipantInfo: ...

    async def send_data(
        self, room: str, payload: bytes, *, destination_identities: Sequence[str] = ()
    ) -> None:
        """Reliable delivery; to everyone in the room when no identities are given."""
        ...

    async def mute_track(
        self, room: str, identity: str, track_sid: str, muted: bool
    ) -> TrackInfo: ...

    async def update_participant(
        self,
        room: str,
        identity: str,
        *,
        permission: ParticipantPermission | None = None,
        name: str | None = None,
        attributes: dict[str, str] | None = None,
        metadata: str | None = None,
    ) -> ParticipantInfo:
        """Changes only what is given. A permission replaces the whole set (LiveKit's rule)."""
        ...

    async def remove_participant(self, room: str, identity: str) -> None: ...

    async def update_room_metadata(self, room: str, metadata: str) -> None: ...

    async def create_room(
        self, room: str, *, empty_timeout_s: int, departure_timeout_s: int, max_participants: int
    ) -> Room:
        """Creates the room now (or returns it when it exists), with these limits."""
        ...

    async def delete_room(self, room: str) -> None: ...

    async def close(self) -> None: ...
