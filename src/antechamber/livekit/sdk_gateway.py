"""`LiveKitGateway` over the official SDK's async RoomService client.

One aiohttp session (a connection pool) per process, created on the process' first call
to LiveKit: the SDK (aiohttp, every protobuf module of `livekit.protocol`, PyJWT) is
imported then, not at start, so a worker that never talks to LiveKit (most of them: the
hot paths don't, and one process at a time runs the reconciler's passes) doesn't carry
its ~15 MiB (bench/README.md, "Worker memory"). Every call is bounded twice: aiohttp's
own time-out, and `asyncio.wait_for` around the whole call, so neither a dead host nor a
server that accepts and never answers can hang a request longer than `timeout_s`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, TypeVar

from antechamber.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    UpstreamError,
    UpstreamUnavailable,
)
from antechamber.livekit.sdk import load_sdk
from antechamber.observability.metrics import Metrics
from antechamber.settings import LiveKitSettings

if TYPE_CHECKING:
    from livekit.api import LiveKitAPI, TwirpError
    from livekit.api.room_service import RoomService
    from livekit.protocol.models import ParticipantInfo, ParticipantPermission, Room, TrackInfo

logger = logging.getLogger(__name__)
T = TypeVar("T")

UNAVAILABLE = "LiveKit is unavailable: it did not answer in time or refused the connection."
# Twirp codes that mean "the server can't serve now", as opposed to a broken request.
_UNAVAILABLE_CODES = frozenset({"unavailable", "deadline_exceeded", "resource_exhausted"})
_INVALID_CODES = frozenset({"invalid_argument", "malformed", "out_of_range"})


class SdkLiveKitGateway:
    def __init__(
        self,
        http_url: str,
        api_key: str,
        api_secret: str,
        timeout_s: float,
        metrics: Metrics | None = None,
    ) -> None:
        self._http_url = http_url
        self._api_key = api_key
        self._api_secret = api_secret
        self._timeout_s = timeout_s
        self._metrics = metrics
        self._api: LiveKitAPI | None = None

    @property
    def loaded(self) -> bool:
        """Whether this process has built its SDK client (it has talked to LiveKit)."""
        return self._api is not None

    @property
    def _room(self) -> RoomService:
        """The SDK's RoomService, built (and the SDK imported) on first use; needs the
        running event loop (the SDK opens its HTTP session at once)."""
        if self._api is None:
            load_sdk()
            import aiohttp

            from livekit import api as lk

            # failover=False: region failover is for LiveKit Cloud; a self-hosted server
            # has one address, and a retry would only stretch the time-out.
            self._api = lk.LiveKitAPI(
                self._http_url,
                self._api_key,
                self._api_secret,
                timeout=aiohttp.ClientTimeout(total=self._timeout_s),
                failover=False,
            )
        return self._api.room

    async def _call(self, what: str, call: Awaitable[T]) -> T:
        # Loaded with the SDK by the `_room` that made `call`.
        import aiohttp

        from livekit import api as lk

        # The SDK coroutine's name is the RoomService method (list_rooms, send_data...).
        method = str(getattr(call, "__name__", what))
        try:
            result = await asyncio.wait_for(call, self._timeout_s)
        except lk.TwirpError as exc:
            self._count(method, f"error_{exc.code}")
            raise _domain_error(what, exc) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            self._count(method, "unavailable")
            logger.warning("LiveKit call failed (%s): %s", what, type(exc).__name__)
            raise UpstreamUnavailable(UNAVAILABLE) from exc
        self._count(method, "ok")
        return result

    def _count(self, method: str, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.livekit_calls.labels(method, outcome).inc()

    async def list_rooms(self, names: Sequence[str] = ()) -> list[Room]:
        from livekit.protocol import room as proto

        response = await self._call(
            "room", self._room.list_rooms(proto.ListRoomsRequest(names=list(names)))
        )
        return list(response.rooms)

    async def list_participants(self, room: str) -> list[ParticipantInfo]:
        from livekit.protocol import room as proto

        response = await self._call(
            "room", self._room.list_participants(proto.ListParticipantsRequest(room=room))
        )
        return list(response.participants)

    async def get_participant(self, room: str, identity: str) -> ParticipantInfo:
        from livekit.protocol import room as proto

        request = proto.RoomParticipantIdentity(room=room, identity=identity)
        return await self._call("participant", self._room.get_participant(request))

    async def send_data(
        self, room: str, payload: bytes, *, destination_identities: Sequence[str] = ()
    ) -> None:
        from livekit.protocol import models
        from livekit.protocol import room as proto

        request = proto.SendDataRequest(
            room=room,
            data=payload,
            kind=models.DataPacket.Kind.RELIABLE,
            destination_identities=list(destination_identities),
        )
        await self._call("room", self._room.send_data(request))

    async def mute_track(self, room: str, identity: str, track_sid: str, muted: bool) -> TrackInfo:
        from livekit.protocol import room as proto

        request = proto.MuteRoomTrackRequest(
            room=room, identity=identity, track_sid=track_sid, muted=muted
        )
        response = await self._call("track", self._room.mute_published_track(request))
        return response.track

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
        from livekit.protocol import room as proto

        request = proto.UpdateParticipantRequest(room=room, identity=identity)
        # Unset fields are left alone by LiveKit, so only what is given is set.
        if permission is not None:
            request.permission.CopyFrom(permission)
        if name is not None:
            request.name = name
        if attributes is not None:
            request.attributes.update(attributes)
        if metadata is not None:
            request.metadata = metadata
        return await self._call("participant", self._room.update_participant(request))

    async def remove_participant(self, room: str, identity: str) -> None:
        from livekit.protocol import room as proto

        request = proto.RoomParticipantIdentity(room=room, identity=identity)
        await self._call("participant", self._room.remove_participant(request))

    async def update_room_metadata(self, room: str, metadata: str) -> None:
        from livekit.protocol import room as proto

        request = proto.UpdateRoomMetadataRequest(room=room, metadata=metadata)
        await self._call("room", self._room.update_room_metadata(request))

    async def create_room(
        self, room: str, *, empty_timeout_s: int, departure_timeout_s: int, max_participants: int
    ) -> Room:
        from livekit.protocol import room as proto

        request = proto.CreateRoomRequest(
            name=room,
            empty_timeout=empty_timeout_s,
            departure_timeout=departure_timeout_s,
            max_participants=max_participants,
        )
        return await self._call("room", self._room.create_room(request))

    async def delete_room(self, room: str) -> None:
        from livekit.protocol import room as proto

        await self._call("room", self._room.delete_room(proto.DeleteRoomRequest(room=room)))

    async def close(self) -> None:
        if self._api is not None:
            await self._api.aclose()


def _domain_error(what: str, exc: TwirpError) -> Exception:
    from livekit import api as lk

    # The server's message may name rooms and identities but never carries secrets.
    logger.warning("LiveKit refused a call (%s): %s %s", what, exc.code, exc.status)
    if exc.code == lk.TwirpErrorCode.NOT_FOUND:
        return NotFound(f"LiveKit has no such {what} (or the room is not live).")
    if exc.code in _INVALID_CODES:
        return InvalidInput("non_field_errors", f"LiveKit refused the request: {exc.message}")
    if exc.code == lk.TwirpErrorCode.FAILED_PRECONDITION:
        return Conflict(f"LiveKit refused the request: {exc.message}")
    if exc.code in _UNAVAILABLE_CODES or exc.status in (502, 503, 504):
        return UpstreamUnavailable(UNAVAILABLE)
    return UpstreamError(f"LiveKit answered with an error ({exc.code}).")


def build_gateway(settings: LiveKitSettings, metrics: Metrics | None = None) -> SdkLiveKitGateway:
    """Talks to LiveKit (and imports the SDK) only on its first call."""
    return SdkLiveKitGateway(
        settings.http_url,
        settings.api_key,
        settings.api_secret.get_secret_value(),
        settings.timeout_s,
        metrics,
    )
