"""A stand-in RoomService for the faults the real server won't produce on demand: errors,
slowness, being down. It decodes each JSON request strictly with the official
`livekit-protocol` messages (an unknown field, a wrong type or a bad enum name is
refused, and recorded in `refused`), and answers as the real server does: JSON with the
proto field names and every field written."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web
from google.protobuf.json_format import MessageToJson, Parse, ParseError
from google.protobuf.message import Message
from livekit.protocol import models, room

REQUESTS: dict[str, type[Message]] = {
    "ListRooms": room.ListRoomsRequest,
    "ListParticipants": room.ListParticipantsRequest,
    "GetParticipant": room.RoomParticipantIdentity,
    "SendData": room.SendDataRequest,
    "MutePublishedTrack": room.MuteRoomTrackRequest,
    "UpdateParticipant": room.UpdateParticipantRequest,
    "RemoveParticipant": room.RoomParticipantIdentity,
    "UpdateRoomMetadata": room.UpdateRoomMetadataRequest,
    "DeleteRoom": room.DeleteRoomRequest,
}
RESPONSES: dict[str, Message] = {
    "ListRooms": room.ListRoomsResponse(),
    "ListParticipants": room.ListParticipantsResponse(),
    "GetParticipant": models.ParticipantInfo(identity="alice"),
    "SendData": room.SendDataResponse(),
    "MutePublishedTrack": room.MuteRoomTrackResponse(),
    "UpdateParticipant": models.ParticipantInfo(identity="alice"),
    "RemoveParticipant": room.RemoveParticipantResponse(),
    "UpdateRoomMetadata": models.Room(),
    "DeleteRoom": room.DeleteRoomResponse(),
}


@dataclass
class Fault:
    status: int = 200  # anything else answers a Twirp error with `code`
    code: str = "internal"
    delay_s: float = 0.0
    body: bytes | None = None  # answered as is, with `status` (a proxy's page, junk)


@dataclass
class TwirpDouble:
    url: str
    fault: Fault = field(default_factory=Fault)
    received: list[tuple[str, Message]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            if request.content_type != "application/json":
                raise ParseError(f"content type {request.content_type}")
            decoded = Parse(await request.read(), REQUESTS[method]())
        except ParseError as exc:
            self.refused.append(f"{method}: {exc}")
            body = json.dumps({"code": "malformed", "msg": str(exc)})
            return web.Response(status=400, text=body, content_type="application/json")
        self.received.append((method, decoded))
        if self.fault.delay_s:
            await asyncio.sleep(self.fault.delay_s)
        if self.fault.body is not None:
            return web.Response(status=self.fault.status, body=self.fault.body)
        if self.fault.status != 200:
            body = json.dumps({"code": self.fault.code, "msg": "injected fault"})
            return web.Response(
                status=self.fault.status, text=body, content_type="application/json"
            )
        answer = MessageToJson(
            RESPONSES[method],
            preserving_proto_field_name=True,
            always_print_fields_with_no_presence=True,
        )
        return web.Response(text=answer, content_type="application/json")


@asynccontextmanager
async def twirp_double() -> AsyncIterator[TwirpDouble]:
    double = TwirpDouble(url="")
    app = web.Application()
    app.router.add_post("/twirp/livekit.RoomService/{method}", double.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    double.url = f"http://{host}:{port}"
    try:
        yield double
    finally:
        await runner.cleanup()
