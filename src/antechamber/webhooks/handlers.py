"""What each LiveKit event does. Unknown events, and participant events of rooms the
service doesn't know (unregistered slugs), do nothing.

`participant_joined` of an identity banned from the room removes it from LiveKit at once
(it came back with a token it already held, or one LiveKit refreshed) and doesn't list
it. A `participant_left` of someone never listed means webhooks came out of order (or
one was lost): the room is reconciled with LiveKit.

Every handler is idempotent (a set, a delete, a clear), so handling an event again after
a failure half-way is safe.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from livekit.protocol.webhook import WebhookEvent

from antechamber.errors import DomainError, NotFound
from antechamber.livekit.gateway import LiveKitGateway
from antechamber.moderation.bans import BanStore
from antechamber.presence.store import Left, PresenceStore, PresentParticipant

logger = logging.getLogger(__name__)

IsRegistered = Callable[[str], Awaitable[bool]]


class RoomFinishedListener(Protocol):
    """Told when a LiveKit room ends (the lobby, the presence list)."""

    async def clear_room(self, room: str) -> None: ...


class ReconcileRequests(Protocol):
    def request(self, room: str) -> None: ...


class WebhookHandlers:
    def __init__(
        self,
        presence: PresenceStore,
        room_finished_listeners: Sequence[RoomFinishedListener],
        is_registered: IsRegistered,
        *,
        bans: BanStore,
        livekit: LiveKitGateway,
        reconciler: ReconcileRequests,
    ) -> None:
        self._presence = presence
        self._bans = bans
        self._livekit = livekit
        self._reconciler = reconciler
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
        room = event.room.name
        if await self._bans.is_banned(room, participant.identity):
            await self._remove_banned(room, participant.identity)
            return
        await self._presence.joined(
            event.room.name,
            PresentParticipant(
                identity=participant.identity,
                sid=participant.sid,
                name=participant.name,
                joined_at=participant.joined_at,
            ),
        )

    async def _remove_banned(self, room: str, identity: str) -> None:
        try:
            await self._livekit.remove_participant(room, identity)
            logger.info("removed banned identity %s from room %s on joining", identity, room)
        except NotFound:
            pass  # gone already
        except DomainError as exc:
            # The reconciler watches rooms with bans and removes it on its next pass.
            logger.warning("banned identity not removed from room %s: %s", room, exc.detail)
            self._reconciler.request(room)

    async def _participant_left(self, event: WebhookEvent) -> None:
        participant = event.participant
        outcome = await self._presence.left(event.room.name, participant.identity, participant.sid)
        if outcome is Left.UNKNOWN:
            self._reconciler.request(event.room.name)

    async def _room_finished(self, event: WebhookEvent) -> None:
        for listener in self._listeners:
            await listener.clear_room(event.room.name)
