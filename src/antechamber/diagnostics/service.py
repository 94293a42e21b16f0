"""The front end's connection test: a short-lived token for a LiveKit room of its own.

Each test gets a fresh random room and identity, so two people testing never meet; the
room admits one participant, and is deleted when its lifetime ends (by a timer in the
process that created it; should that process stop first, LiveKit closes the room once
it has been empty for the same lifetime). The token grants nothing else: no data, no
screen share, no admin rights, and nothing in any other room.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass

from antechamber.errors import DomainError, NotFound
from antechamber.livekit.gateway import LiveKitGateway
from antechamber.livekit.hs256 import sign
from antechamber.settings import Settings

logger = logging.getLogger(__name__)
ROOM_PREFIX = "connection-test-"


@dataclass(frozen=True)
class ConnectionTest:
    url: str
    room: str
    token: str
    expires_in: int


class DiagnosticsService:
    def __init__(self, settings: Settings, livekit: LiveKitGateway) -> None:
        self._settings = settings
        self._livekit = livekit
        self._timers: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        return self._settings.connection_test.enabled

    async def start(self) -> ConnectionTest:
        if not self.enabled:
            raise NotFound("The connection test is not enabled on this service.")
        ttl_s = self._settings.connection_test.ttl_s
        room = ROOM_PREFIX + secrets.token_urlsafe(16)
        await self._livekit.create_room(
            room, empty_timeout_s=ttl_s, departure_timeout_s=1, max_participants=1
        )
        timer = asyncio.create_task(self._delete_later(room, ttl_s))
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)
        livekit = self._settings.livekit
        now = int(time.time())
        claims = {
            "name": "Connection test",
            "video": {
                "roomJoin": True,
                "room": room,
                "canPublish": True,
                "canSubscribe": True,
                "canPublishData": False,
                "canPublishSources": ["camera", "microphone"],
            },
            "sub": "tester-" + secrets.token_urlsafe(8),
            "iss": livekit.api_key,
            "nbf": now,
            "exp": now + ttl_s,
        }
        token = sign(claims, livekit.api_secret.get_secret_value().encode())
        return ConnectionTest(livekit.url, room, token, ttl_s)

    async def _delete_later(self, room: str, ttl_s: int) -> None:
        await asyncio.sleep(ttl_s)
        try:
            await self._livekit.delete_room(room)
        except NotFound:
            pass  # already closed by LiveKit
        except DomainError as exc:
            logger.warning("connection-test room %s not deleted: %s", room, exc.detail)

    async def close(self) -> None:
        for timer in list(self._timers):
            timer.cancel()
