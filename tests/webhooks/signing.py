"""LiveKit webhooks as LiveKit sends them: a JSON event, signed with the official SDK."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import timedelta

from google.protobuf.json_format import MessageToJson
from livekit.protocol.models import ParticipantInfo, Room
from livekit.protocol.webhook import WebhookEvent

from livekit import api
from tests.conftest import LIVEKIT_KEY, LIVEKIT_SECRET

WEBHOOK = "/api/v1.0/rooms/webhooks-livekit/"


def event_body(
    kind: str,
    room: str,
    *,
    identity: str = "",
    sid: str = "",
    event_id: str | None = None,
    joined_at: int = 0,
) -> bytes:
    event = WebhookEvent(
        event=kind,
        id=event_id or f"EV_{uuid.uuid4().hex}",
        room=Room(name=room, sid="RM_1"),
        created_at=1,
    )
    if identity:
        event.participant.CopyFrom(
            ParticipantInfo(identity=identity, sid=sid, name=identity.title(), joined_at=joined_at)
        )
    return MessageToJson(event).encode()


def signature(
    body: bytes,
    *,
    key: str = LIVEKIT_KEY,
    secret: str = LIVEKIT_SECRET,
    ttl: timedelta = timedelta(minutes=5),
) -> str:
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    return api.AccessToken(key, secret).with_sha256(digest).with_ttl(ttl).to_jwt()


def signed(body: bytes) -> dict[str, str]:
    return {"Authorization": signature(body), "Content-Type": "application/webhook+json"}
