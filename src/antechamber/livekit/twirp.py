"""`LiveKitGateway` over LiveKit's RoomService API: Twirp, JSON over HTTP.

Each call is a POST of a JSON request to `/twirp/livekit.RoomService/<Method>`, with a
token made for it alone: `roomAdmin` on the one room a participant call concerns,
`roomList` to list rooms, `roomCreate` to create or delete one (the grants the official
SDK's RoomService client asks for). LiveKit answers JSON with the proto field names, or
a Twirp error (`{"code": ..., "msg": ...}`).

This client replaces the SDK's (aiohttp, every protobuf module of `livekit.protocol`,
PyJWT: 13-16 MiB per worker that talked to LiveKit; bench/README.md, "Worker memory").
Tests run it against a real LiveKit server (tests/livekit) and a stand-in that decodes
each request strictly with the SDK's protobuf messages (tests/livekit/twirp_double.py).

Every call is bounded by `asyncio.wait_for`, so neither a dead host nor a server that
accepts and never answers can hang a request longer than `timeout_s`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from antechamber.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    UpstreamError,
    UpstreamUnavailable,
)
from antechamber.livekit.hs256 import sign
from antechamber.livekit.http import HttpOrigin, ProtocolError
from antechamber.livekit.models import (
    MessageError,
    ParticipantInfo,
    ParticipantPermission,
    Room,
    TrackInfo,
    object_at,
    objects_at,
)
from antechamber.observability.metrics import Metrics
from antechamber.settings import LiveKitSettings

logger = logging.getLogger(__name__)
T = TypeVar("T")

UNAVAILABLE = "LiveKit is unavailable: it did not answer in time or refused the connection."
PATH = "/twirp/livekit.RoomService/"
TOKEN_TTL_S = 600  # the SDK's for its API calls
# Twirp codes that mean "the server can't serve now", as opposed to a broken request.
_UNAVAILABLE_CODES = frozenset({"unavailable", "deadline_exceeded", "resource_exhausted"})
_INVALID_CODES = frozenset({"invalid_argument", "malformed", "out_of_range"})


# Calls that do the same thing twice as once. Not SendData (a message twice), nor
# RemoveParticipant or DeleteRoom (the second one answers "not found").
_IDEMPOTENT = frozenset(
    {
        "ListRooms",
        "ListParticipants",
        "GetParticipant",
        "MutePublishedTrack",
        "UpdateParticipant",
        "UpdateRoomMetadata",
        "CreateRoom",
    }
)


class TwirpError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code} ({status}): {message}")
        self.status = status
        self.code = code
        self.message = message


class TwirpLiveKitGateway:
    def __init__(
        self,
        http_url: str,
        api_key: str,
        api_secret: str,
        timeout_s: float,
        metrics: Metrics | None = None,
    ) -> None:
        self._origin = HttpOrigin(http_url)
        self._api_key = api_key
        self._secret = api_secret.encode()
        self._timeout_s = timeout_s
        self._metrics = metrics
        self.calls_made = 0  # calls made (answered or not) since the gateway was built

    def _token(self, video: dict[str, Any]) -> str:
        now = int(time.time())
        claims = {"video": video, "iss": self._api_key, "nbf": now, "exp": now + TOKEN_TTL_S}
        return sign(claims, self._secret)

    async def _call(
        self, what: str, method: str, request: dict[str, Any], video: dict[str, Any]
    ) -> dict[str, Any]:
        """One call; sent a second time (a kept connection found closed) only when that
        does no harm (`_IDEMPOTENT`)."""
        self.calls_made += 1
        body = json.dumps(request, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "Authorization": "Bearer " + self._token(video),
        }
        try:
            response = await asyncio.wait_for(
                self._origin.post(PATH + method, body, headers, idempotent=method in _IDEMPOTENT),
                self._timeout_s,
            )
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ProtocolError) as exc:
            self._count(method, "unavailable")
            logger.warning("LiveKit call failed (%s): %s", what, type(exc).__name__)
            raise UpstreamUnavailable(UNAVAILABLE) from exc
        if response.status != 200:
            error = _twirp_error(response.status, response.body)
            self._count(method, f"error_{error.code}")
            raise _domain_error(what, error) from error
        try:
            answer = json.loads(response.body)
            if not isinstance(answer, dict):
                raise ValueError("not an object")
        except (ValueError, RecursionError) as exc:
            self._count(method, "error_malformed")
            logger.warning("LiveKit answered %s with a body that is not a JSON object", method)
            raise UpstreamError("LiveKit answered with an error (malformed).") from exc
        self._count(method, "ok")
        return answer

    def _count(self, method: str, outcome: str) -> None:
        if self._metrics is not None:
            # Labelled with the method's snake-case name (list_rooms), as it always was.
            name = "".join("_" + c.lower() if c.isupper() else c for c in method)
            self._metrics.livekit_calls.labels(name[1:], outcome).inc()

    async def _room_call(
        self, what: str, method: str, room: str, request: dict[str, Any]
    ) -> dict[str, Any]:
        return await self._call(what, method, request, {"roomAdmin": True, "room": room})

    async def list_rooms(self, names: Sequence[str] = ()) -> list[Room]:
        answer = await self._call("room", "ListRooms", {"names": list(names)}, {"roomList": True})
        return _parse("room", lambda: [Room.from_json(r) for r in objects_at(answer, "rooms")])

    async def list_participants(self, room: str) -> list[ParticipantInfo]:
        answer = await self._room_call("room", "ListParticipants", room, {"room": room})
        return _parse(
            "room",
            lambda: [ParticipantInfo.from_json(p) for p in objects_at(answer, "participants")],
        )

    async def get_participant(self, room: str, identity: str) -> ParticipantInfo:
        request = {"room": room, "identity": identity}
        answer = await self._room_call("participant", "GetParticipant", room, request)
        return _parse("participant", lambda: ParticipantInfo.from_json(answer))

    async def send_data(
        self, room: str, payload: bytes, *, destination_identities: Sequence[str] = ()
    ) -> None:
        request = {
            "room": room,
            "data": base64.b64encode(payload).decode(),
            "kind": "RELIABLE",
            "destination_identities": list(destination_identities),
            # As the SDK does: a message's own id, by which LiveKit knows it again.
            "nonce": base64.b64encode(secrets.token_bytes(16)).decode(),
        }
        await self._room_call("room", "SendData", room, request)

    async def mute_track(self, room: str, identity: str, track_sid: str, muted: bool) -> TrackInfo:
        request = {"room": room, "identity": identity, "track_sid": track_sid, "muted": muted}
        answer = await self._room_call("track", "MutePublishedTrack", room, request)
        return _parse("track", lambda: TrackInfo.from_json(object_at(answer, "track")))

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
        # Unset fields are left alone by LiveKit, so only what is given is sent.
        request: dict[str, Any] = {"room": room, "identity": identity}
        if permission is not None:
            request["permission"] = permission.to_json()
        if name is not None:
            request["name"] = name
        if attributes is not None:
            request["attributes"] = attributes
        if metadata is not None:
            request["metadata"] = metadata
        answer = await self._room_call("participant", "UpdateParticipant", room, request)
        return _parse("participant", lambda: ParticipantInfo.from_json(answer))

    async def remove_participant(self, room: str, identity: str) -> None:
        request = {"room": room, "identity": identity}
        await self._room_call("participant", "RemoveParticipant", room, request)

    async def update_room_metadata(self, room: str, metadata: str) -> None:
        request = {"room": room, "metadata": metadata}
        await self._room_call("room", "UpdateRoomMetadata", room, request)

    async def create_room(
        self, room: str, *, empty_timeout_s: int, departure_timeout_s: int, max_participants: int
    ) -> Room:
        request = {
            "name": room,
            "empty_timeout": empty_timeout_s,
            "departure_timeout": departure_timeout_s,
            "max_participants": max_participants,
        }
        answer = await self._call("room", "CreateRoom", request, {"roomCreate": True})
        return _parse("room", lambda: Room.from_json(answer))

    async def delete_room(self, room: str) -> None:
        await self._call("room", "DeleteRoom", {"room": room}, {"roomCreate": True})

    async def close(self) -> None:
        await self._origin.close()


def _parse(what: str, parse: Callable[[], T]) -> T:
    try:
        return parse()
    except MessageError as exc:
        logger.warning("LiveKit's answer about a %s has an unexpected shape: %s", what, exc)
        raise UpstreamError("LiveKit answered with an error (malformed).") from exc


def _twirp_error(status: int, body: bytes) -> TwirpError:
    """The Twirp error in the body; "unknown" when the body isn't one (a proxy's page, a
    wrong path): never read as "no such room", which would clear the room's state."""
    try:
        error = json.loads(body)
        code, message = error["code"], error.get("msg", "")
        if isinstance(code, str) and code and isinstance(message, str):
            return TwirpError(status, code, message)
    except (ValueError, TypeError, KeyError, RecursionError):
        pass
    return TwirpError(status, "unknown", f"HTTP {status}")


def _domain_error(what: str, exc: TwirpError) -> Exception:
    # The server's message may name rooms and identities but never carries secrets.
    logger.warning("LiveKit refused a call (%s): %s %s", what, exc.code, exc.status)
    if exc.code == "not_found":
        return NotFound(f"LiveKit has no such {what} (or the room is not live).")
    if exc.code in _INVALID_CODES:
        return InvalidInput("non_field_errors", f"LiveKit refused the request: {exc.message}")
    if exc.code == "failed_precondition":
        return Conflict(f"LiveKit refused the request: {exc.message}")
    if exc.code in _UNAVAILABLE_CODES or exc.status in (502, 503, 504):
        return UpstreamUnavailable(UNAVAILABLE)
    return UpstreamError(f"LiveKit answered with an error ({exc.code}).")


def build_gateway(settings: LiveKitSettings, metrics: Metrics | None = None) -> TwirpLiveKitGateway:
    return TwirpLiveKitGateway(
        settings.http_url,
        settings.api_key,
        settings.api_secret.get_secret_value(),
        settings.timeout_s,
        metrics,
    )
