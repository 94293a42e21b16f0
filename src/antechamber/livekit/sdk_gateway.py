"""`LiveKitGateway` over the official SDK's async RoomService client.

One aiohttp session (a connection pool) per process, created in the app's lifespan.
Every call is bounded twice: aiohttp's own time-out, and `asyncio.wait_for` around the
whole call, so neither a dead host nor a server that accepts and never answers can hang
a request longer than `timeout_s`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import TypeVar

import aiohttp

from antechamber.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    UpstreamError,
    UpstreamUnavailable,
)
from antechamber.livekit.gateway import ParticipantInfo, ParticipantPermission, Room, TrackInfo
from antechamber.observability.metrics import Metrics
from antechamber.settings import LiveKitSettings
from livekit import api as lk

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
        self._timeout_s = timeout_s
        self._metrics = metrics
        # failover=False: region failover is for LiveKit Cloud; a self-hosted server
        # has one address, and a retry would only stretch the time-out.
        self._api = lk.LiveKitAPI(
            http_url,
            api_key,
            api_secret,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            failover=False,
        )

    async def _call(self, what: str, call: Awaitable[T]) -> T:
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
        response = await self._call(
            "room", self._api.room.list_rooms(lk.ListRoomsRequest(names=list(names)))
        )
        return list(response.rooms)

    async def list_participants(self, room: str) -> list[ParticipantInfo]:
        response = await self._call(
            "room", self._api.room.list_participants(lk.ListParticipantsRequest(room=room))
        )
        return list(response.participants)

    async def get_participant(self, room: str, identity: str) -> ParticipantInfo:
        request = lk.RoomParticipantIdentity(room=room, identity=identity)
        return await self._call("participant", self._api.room.get_participant(request))

    async def send_data(
        self, room: str, payload: bytes, *, destination_identities: Sequence[str] = ()
    ) -> None:
        request = lk.SendDataRequest(
            room=room,
            data=payload,
            kind=lk.DataPacket.Kind.RELIABLE,
            destination_identities=list(destination_identities),
        )
        await self._call("room", self._api.room.send_data(request))

    async def mute_track(self, room: str, identity: str, track_sid: str, muted: bool) -> TrackInfo:
        request = lk.MuteRoomTrackRequest(
            room=room, identity=identity, track_sid=track_sid, muted=muted
        )
        response = await self._call("track", self._api.room.mute_published_track(request))
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
        request = lk.UpdateParticipantRequest(room=room, identity=identity)
        # Unset fields are left alone by LiveKit, so only what is given is set.
        if permission is not None:
            request.permission.CopyFrom(permission)
        if name is not None:
            request.name = name
        if attributes is not None:
            request.attributes.update(attributes)
        if metadata is not None:
            request.metadata = metadata
        return await self._call("participant", self._api.room.update_participant(request))

    async def remove_participant(self, room: str, identity: str) -> None:
        request = lk.RoomParticipantIdentity(room=room, identity=identity)
        await self._call("participant", self._api.room.remove_participant(request))

    async def update_room_metadata(self, room: str, metadata: str) -> None:
        request = lk.UpdateRoomMetadataRequest(room=room, metadata=metadata)
        await self._call("room", self._api.room.update_room_metadata(request))

    async def create_room(
        self, room: str, *, empty_timeout_s: int, departure_timeout_s: int, max_participants: int
    ) -> Room:
        request = lk.CreateRoomRequest(
            name=room,
            empty_timeout=empty_timeout_s,
            departure_timeout=departure_timeout_s,
            max_participants=max_participants,
        )
        return await self._call("room", self._api.room.create_room(request))

    async def delete_room(self, room: str) -> None:
        await self._call("room", self._api.room.delete_room(lk.DeleteRoomRequest(room=room)))

    async def close(self) -> None:
        await self._api.aclose()


def _domain_error(what: str, exc: lk.TwirpError) -> Exception:
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
    """Needs a running event loop (the SDK opens its HTTP session at once)."""
    return SdkLiveKitGateway(
        settings.http_url,
        settings.api_key,
        settings.api_secret.get_secret_value(),
        settings.timeout_s,
        metrics,
    )
