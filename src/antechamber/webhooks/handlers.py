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

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeAlias

from antechamber.bans import BanStore
from antechamber.errors import DomainError, NotFound
from antechamber.livekit.gateway import LiveKitGateway
from antechamber.livekit.models import ParticipantInfo, TrackSource, WebhookEvent
from antechamber.presence.store import Left, PresenceStore, PresentParticipant
from antechamber.rooms.schemas import RoomConfiguration

logger = logging.getLogger(__name__)

IsRegistered = Callable[[str], Awaitable[bool]]
ConfigurationOf = Callable[[str], Awaitable[RoomConfiguration | None]]
# Rules applied to each (not banned) participant who joins a room.
OnJoined: TypeAlias = Callable[[str, ParticipantInfo], Awaitable[None]]
# A microphone published this soon after joining is "the one they joined with".
JOIN_MUTE_WINDOW_S = 10
ADMIN_ROLES = ("owner", "administrator")


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
        configuration_of: ConfigurationOf,
        on_joined: OnJoined,
    ) -> None:
        self._on_joined = on_joined
        self._configuration_of = configuration_of
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
            "track_published": self._track_published,
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
        try:
            await self._on_joined(room, participant)
        except DomainError as exc:
            logger.warning("join rules not applied in room %s: %s", room, exc.detail)

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

    async def _track_published(self, event: WebhookEvent) -> None:
        """Muted on join: a non-admin's first microphone is muted by the server."""
        track, room = event.track, event.room.name
        if track.source != TrackSource.MICROPHONE or track.muted:
            return
        configuration = await self._configuration_of(room)
        if configuration is None or not configuration.muted_on_join:
            return
        # The event names the participant only: its role and join time come from LiveKit.
        with contextlib.suppress(NotFound):  # left, or unpublished, meanwhile
            participant = await self._livekit.get_participant(room, event.participant.identity)
            if participant.attributes.get("room_role") in ADMIN_ROLES:
                return
            published_at = event.created_at or int(time.time())
            if published_at - participant.joined_at > JOIN_MUTE_WINDOW_S:
                return  # a microphone turned on later, by choice
            await self._livekit.mute_track(room, participant.identity, track.sid, True)

    async def _room_finished(self, event: WebhookEvent) -> None:
        for listener in self._listeners:
            await listener.clear_room(event.room.name)
