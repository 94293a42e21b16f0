"""The lobby's rules: who waits, and how admins decide. Who skips it (and with which
token) is admission's decision (`antechamber.admission`).

This service is the lobby's only door: nothing else reaches its store.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from antechamber.admission.service import AdmissionService
from antechamber.auth.caller import Caller
from antechamber.errors import BadRequest, Conflict, NotFound, RateLimited
from antechamber.lobby.notify import WaitingNotifier
from antechamber.lobby.store import (
    DecisionOutcome,
    LobbyStore,
    Place,
    PlaceEvent,
    RateLimit,
    RequestOutcome,
    Status,
    room_of_channel,
)
from antechamber.observability.metrics import Metrics
from antechamber.rooms import capacity, policy
from antechamber.rooms.cache import RoomSnapshot
from antechamber.rooms.models import AccessLevel
from antechamber.rooms.schemas import LiveKitAccess
from antechamber.settings import Settings
from antechamber.tokens.colour import colour_for
from antechamber.ttlmap import TTLMap


@dataclass(frozen=True)
class Entry:
    """What request-entry and the participant's stream answer."""

    status: Status
    username: str
    id: str
    livekit: LiveKitAccess | None

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "username": self.username,
            "id": self.id,
            "color": colour_for(self.id),
            "livekit": self.livekit.model_dump() if self.livekit else None,
        }


LIST_CACHE_TTL_S = 1.0
MAX_CACHED_LISTS = 10_000


@dataclass(frozen=True)
class WaitingParticipant:
    """A waiting participant (or a change of one) as admins see it: the schema of the
    waiting list and of the admins' stream events."""

    id: str
    username: str
    color: str
    status: str
    requested_at: str


def participant_json(event: PlaceEvent) -> dict[str, str]:
    shaped = WaitingParticipant(
        id=event.id,
        username=event.username,
        color=colour_for(event.id),
        status=event.status,
        requested_at=iso(event.requested_at_ms),
    )
    return vars(shaped)


def place_json(place: Place) -> dict[str, str]:
    return participant_json(PlaceEvent.of(place, place.status))


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


NO_LOBBY = "Public rooms have no lobby: everyone joins directly."
NO_PLACE = "You have no place in this room's lobby; request entry first."


class LobbyService:
    def __init__(
        self,
        store: LobbyStore,
        settings: Settings,
        admission: AdmissionService,
        notifier: WaitingNotifier,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self.store = store
        self._admission = admission
        self._settings = settings
        self._notifier = notifier
        lobby = settings.lobby
        self._rate_limit = RateLimit(lobby.rate_limit_per_minute)
        self._lists: TTLMap[str, bytes] = TTLMap(max_entries=MAX_CACHED_LISTS)

    async def request_entry(
        self,
        db: AsyncSession,
        room: RoomSnapshot,
        caller: Caller,
        username: str | None,
        client: str,
    ) -> Entry:
        admission = await self._admission.admit(db, room, caller, username, asking=True)
        assert admission.name is not None
        if admission.livekit is not None:
            self._count_request("direct")
            return Entry(Status.ACCEPTED, admission.name, caller.participant_id, admission.livekit)
        result = await self.store.request(
            str(room.id),
            caller.participant_id,
            caller.identity,
            admission.name,
            client,
            self._settings.lobby.max_waiting_per_room,
            self._rate_limit,
        )
        self._count_request(result.outcome.value)
        if result.outcome is RequestOutcome.FULL:
            raise Conflict("The lobby of this room is full; try again later.")
        if result.outcome is RequestOutcome.LIMITED:
            raise RateLimited(
                "Too many requests to enter from this address; slow down.",
                retry_after=max(1, -(-result.retry_after_ms // 1000)),
            )
        assert result.place is not None
        if result.outcome is RequestOutcome.CREATED:
            self._lists.discard(str(room.id))  # don't wait for our own event
            self._notifier.participant_waiting(str(room.id))
        # Admitted, but the room may have filled since: no token past the cap.
        return await self._entry(room, result.place, caller, capped=True)

    async def follow(self, db: AsyncSession, room: RoomSnapshot, caller: Caller) -> Entry:
        """The first event of a participant's stream (refreshing a waiting place), or
        NotFound when the caller neither joins directly nor has a place."""
        admission = await self._admission.admit(db, room, caller, None, asking=False)
        if admission.livekit is not None:
            assert admission.name is not None
            self._count_request("direct")
            return Entry(Status.ACCEPTED, admission.name, caller.participant_id, admission.livekit)
        place = None
        if caller.participant_id:
            place = await self.place(str(room.id), caller.participant_id, refresh=True)
        if place is None:
            raise NotFound(NO_PLACE)
        return await self.entry_for(room, place, caller)

    async def place(self, livekit_room: str, participant_id: str, *, refresh: bool) -> Place | None:
        """A participant's place; `refresh` keeps a waiting one alive."""
        return await self.store.get(livekit_room, participant_id, refresh=refresh)

    def _count_request(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.lobby_requests.labels(outcome).inc()

    def _count_list(self, places: list[Place]) -> None:
        if self._metrics is not None:
            self._metrics.lobby_waiting.observe(len(places))

    def _count_decision(self, status: Status, outcome: str, count: int = 1) -> None:
        if self._metrics is not None:
            self._metrics.lobby_decisions.labels(status.value, outcome).inc(count)

    async def entry_for(self, room: RoomSnapshot, place: Place, caller: Caller) -> Entry:
        """What a stream says of a place: an admitted one gets its token without the cap
        check (LiveKit's own cap refuses one too many)."""
        return await self._entry(room, place, caller, capped=False)

    async def _entry(
        self, room: RoomSnapshot, place: Place, caller: Caller, *, capped: bool
    ) -> Entry:
        livekit = None
        if place.status is Status.ACCEPTED:
            livekit = await self._admission.admitted(
                room, place.identity, place.username, caller, capped=capped
            )
        return Entry(place.status, place.username, place.id, livekit)

    async def waiting(self, room: RoomSnapshot) -> list[Place]:
        places = await self.store.waiting(str(room.id))
        self._count_list(places)
        return places

    async def waiting_json(self, room: RoomSnapshot) -> bytes:
        """The admins' list, encoded once and reused until the room's lobby changes.

        Any change publishes an event that drops the entry on every process (`on_event`);
        the short lifetime bounds how long a silently expired place can still show."""
        room_id = str(room.id)
        cached = self._lists.get(room_id)
        if cached is not None:
            return cached
        places = await self.store.waiting(room_id)
        self._count_list(places)
        body = json.dumps(
            {"participants": [place_json(p) for p in places]}, separators=(",", ":")
        ).encode()
        self._lists.put(room_id, body, LIST_CACHE_TTL_S)
        return body

    def on_event(self, channel: str, _message: str) -> None:
        """Broker listener: a lobby event drops that room's cached list."""
        room = room_of_channel(channel)
        if room is not None:
            self._lists.discard(room)

    async def decide(self, room: RoomSnapshot, participant_id: uuid.UUID, allow: bool) -> Place:
        self.require_lobby(room.access_level)
        status = Status.ACCEPTED if allow else Status.DENIED
        if allow and await self._admission.free_places(room) == 0:
            cap = room.configuration.max_participants
            assert cap is not None
            raise capacity.full(cap)
        outcome, place = await self.store.decide(str(room.id), str(participant_id), status)
        self._lists.discard(str(room.id))
        self._count_decision(status, outcome.value)
        if outcome is DecisionOutcome.MISSING:
            raise NotFound("No such participant in the lobby.")
        if outcome is DecisionOutcome.CONFLICT:
            assert place is not None
            raise Conflict(f"Another decision already won: the participant is {place.status}.")
        assert place is not None
        return place

    async def decide_all(self, room: RoomSnapshot, allow: bool) -> int:
        self.require_lobby(room.access_level)
        limit = None
        if allow:
            # Admits the oldest up to the cap; the others keep waiting.
            limit = await self._admission.free_places(room)
        status = Status.ACCEPTED if allow else Status.DENIED
        count = await self.store.decide_all(str(room.id), status, limit)
        self._lists.discard(str(room.id))
        self._count_decision(status, "decided", count)
        return count

    def require_lobby(self, access_level: AccessLevel) -> None:
        if not policy.has_lobby(self._settings, access_level):
            raise BadRequest(NO_LOBBY)

    async def clear_room(self, livekit_room: str) -> None:
        await self.store.clear(livekit_room)
        self._lists.discard(livekit_room)

    async def forget_identity(self, livekit_room: str, identity: str) -> None:
        """Removes every place that would join as `identity` (someone removed)."""
        await self.store.forget_identity(livekit_room, identity)

    async def send_back(self, livekit_room: str, identity: str, name: str) -> str:
        """Puts a participant (back) in the lobby as waiting, under the place it had if
        it had one (else under its identity); returns that place's id."""
        place = await self.store.find_identity(livekit_room, identity)
        participant_id = place.id if place is not None else identity
        await self.store.requeue(livekit_room, participant_id, identity, name)
        return participant_id

    async def close(self) -> None:
        await self.store.close()
