"""What each LiveKit event does. Unknown events, and participant events of rooms the
service doesn't know (unregistered slugs), do nothing.

Every handler is idempotent (a set, a delete, a clear), so handling an event again after
a failure half-way is safe.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from livekit.protocol.webhook import WebhookEvent

from antechamber.presence.store import PresenceStore, PresentParticipant

logger = logging.getLogger(__name__)

IsRegistered = Callable[[str], Awaitable[bool]]


class RoomFinishedListener(Protocol):
    """Told when a LiveKit room ends (the lobby, the presence list)."""

    async def clear_room(self, room: str) -> None: ...


class WebhookHandlers:
    def __init__(
        self,
        presence: PresenceStore,
        room_finished_listeners: Sequence[RoomFinishedListener],
        is_registered: IsRegistered,
    ) -> None:
        self._presence = presence
        # Read at each event, so listeners registered after start-up are told too.
        self._listeners = room_finished_listeners
        self._is_registered = is_registered
        self._handlers: dict[str, Callable[[WebhookEvent], Awaitable[None]]] = {
            "participant_joined": self._participant_joined,
            "participant_left": self._participant_left,
            "room_finished": self._room_finished,
        }

    async def handle(self, event: WebhookEvent) -> bool:
        """True when the event meant something to us, False when it was ignored."""
        handler = self._handlers.get(event.event)
        if handler is None or not event.room.name:
            return False
        # Clearing is harmless for any room, and a room deleted while live must still
        # have its lobby cleared; only presence is kept for registered rooms alone.
        if event.event != "room_finished" and not await self._is_registered(event.room.name):
            return False
        await handler(event)
        return True

    async def _participant_joined(self, event: WebhookEvent) -> None:
        participant = event.participant
        await self._presence.joined(
            event.room.name,
            PresentParticipant(
                identity=participant.identity,
                sid=participant.sid,
                name=participant.name,
                joined_at=participant.joined_at,
            ),
        )

    async def _participant_left(self, event: WebhookEvent) -> None:
        participant = event.participant
        await self._presence.left(event.room.name, participant.identity, participant.sid)

    async def _room_finished(self, event: WebhookEvent) -> None:
        for listener in self._listeners:
            await listener.clear_room(event.room.name)
