"""The lobby's rules: who skips it, who waits, and how admins decide.

Who may join directly is re-evaluated on every call (never remembered): a room made
public admits its waiting people on their next poll; a role removed sends its holder to
the lobby next time.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from antechamber.auth.caller import Caller
from antechamber.errors import BadRequest, Conflict, NotFound, PermissionDenied, RateLimited
from antechamber.lobby.notify import WaitingNotifier
from antechamber.lobby.store import (
    DecisionOutcome,
    LobbyStore,
    Place,
    RateLimit,
    RequestOutcome,
    Status,
)
from antechamber.moderation.bans import BanStore
from antechamber.observability.metrics import Metrics
from antechamber.presence.store import PresenceStore
from antechamber.rooms import capacity, policy
from antechamber.rooms import service as rooms
from antechamber.rooms.cache import RoomSnapshot
from antechamber.rooms.models import Role
from antechamber.rooms.schemas import LiveKitAccess
from antechamber.settings import Settings
from antechamber.tokens.colour import colour_for
from antechamber.tokens.service import TokenIssuer, display_name, requested_display_name


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


def place_json(place: Place, status: Status | None = None) -> dict[str, Any]:
    """A waiting participant as admins see it."""
    return {
        "id": place.id,
        "username": place.username,
        "color": colour_for(place.id),
        "status": (status or place.status).value,
        "requested_at": iso(place.requested_at_ms),
    }


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


REMOVED = "You were removed from this room."


class LobbyService:
    def __init__(
        self,
        store: LobbyStore,
        settings: Settings,
        tokens: TokenIssuer,
        notifier: WaitingNotifier,
        bans: BanStore,
        presence: PresenceStore,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self.store = store
        self.bans = bans
        self._presence = presence
        self._settings = settings
        self._tokens = tokens
        self._notifier = notifier
        lobby = settings.lobby
        self._rate_limit = RateLimit(lobby.rate_limit_per_minute)
        self._lists: dict[str, tuple[float, bytes]] = {}

    def _token(self, room: RoomSnapshot, identity: str, name: str, caller: Caller) -> LiveKitAccess:
        return self._tokens.issue(
            livekit_room=str(room.id),
            identity=identity,
            name=name,
            role=None,
            is_authenticated=caller.is_authenticated,
            can_publish_sources=room.configuration.can_publish_sources,
            max_participants=room.configuration.max_participants,
        )

    async def request_entry(
        self,
        db: AsyncSession,
        room: RoomSnapshot,
        caller: Caller,
        username: str | None,
        client: str,
    ) -> Entry:
        policy.require_anonymous_allowed(self._settings, caller)
        await self.refuse_banned(str(room.id), caller.identity)
        chosen = requested_display_name(username)
        full_name = caller.user.full_name if caller.user else None
        name = display_name(self._settings, chosen, full_name, caller.is_authenticated)
        role = await rooms.role_of(db, room.id, caller.user)
        cap = room.configuration.max_participants
        if policy.may_join(self._settings, room.access_level, caller, role):
            await capacity.require_room_for(self._presence, str(room.id), cap, caller.identity)
            livekit = self._tokens.issue(
                livekit_room=str(room.id),
                identity=caller.identity,
                name=name,
                role=role,
                is_authenticated=caller.is_authenticated,
                can_publish_sources=room.configuration.can_publish_sources,
                max_participants=cap,
            )
            self._count_request("direct")
            return Entry(Status.ACCEPTED, name, caller.participant_id, livekit)
        result = await self.store.request(
            str(room.id),
            caller.participant_id,
            caller.identity,
            name,
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
            self._lists.pop(str(room.id), None)  # don't wait for our own event
            self._notifier.participant_waiting(str(room.id))
        if result.place.status is Status.ACCEPTED:
            # Admitted, but the room may have filled since: no token past the cap.
            await capacity.require_room_for(
                self._presence, str(room.id), cap, result.place.identity
            )
        return self.entry_for(room, result.place, caller)

    def _count_request(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.lobby_requests.labels(outcome).inc()

    def _count_list(self, places: list[Place]) -> None:
        if self._metrics is not None:
            self._metrics.lobby_waiting.observe(len(places))

    def _count_decision(self, status: Status, outcome: str, count: int = 1) -> None:
        if self._metrics is not None:
            self._metrics.lobby_decisions.labels(status.value, outcome).inc(count)

    async def refuse_banned(self, livekit_room: str, identity: str) -> None:
        if identity and await self.bans.is_banned(livekit_room, identity):
            raise PermissionDenied(REMOVED)

    def entry_for(self, room: RoomSnapshot, place: Place, caller: Caller) -> Entry:
        livekit = None
        if place.status is Status.ACCEPTED:
            livekit = self._token(room, place.identity, place.username, caller)
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
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        places = await self.store.waiting(room_id)
        self._count_list(places)
        body = json.dumps(
            {"participants": [place_json(p) for p in places]}, separators=(",", ":")
        ).encode()
        if len(self._lists) >= MAX_CACHED_LISTS:
            self._lists.clear()
        self._lists[room_id] = (time.monotonic() + LIST_CACHE_TTL_S, body)
        return body

    def on_event(self, channel: str, _message: str) -> None:
        """Broker listener: a lobby event drops that room's cached list."""
        if channel.startswith("lobby:{") and channel.endswith("}:events"):
            self._lists.pop(channel[len("lobby:{") : -len("}:events")], None)

    async def decide(self, room: RoomSnapshot, participant_id: uuid.UUID, allow: bool) -> Place:
        self._require_lobby(room)
        status = Status.ACCEPTED if allow else Status.DENIED
        cap = room.configuration.max_participants
        if allow and await capacity.free_places(self._presence, str(room.id), cap) == 0:
            assert cap is not None
            raise capacity.full(cap)
        outcome, place = await self.store.decide(str(room.id), str(participant_id), status)
        self._lists.pop(str(room.id), None)
        self._count_decision(status, outcome.value)
        if outcome is DecisionOutcome.MISSING:
            raise NotFound("No such participant in the lobby.")
        if outcome is DecisionOutcome.CONFLICT:
            assert place is not None
            raise Conflict(f"Another decision already won: the participant is {place.status}.")
        assert place is not None
        return place

    async def decide_all(self, room: RoomSnapshot, allow: bool) -> int:
        self._require_lobby(room)
        limit = None
        if allow:
            # Admits the oldest up to the cap; the others keep waiting.
            cap = room.configuration.max_participants
            limit = await capacity.free_places(self._presence, str(room.id), cap)
        status = Status.ACCEPTED if allow else Status.DENIED
        count = await self.store.decide_all(str(room.id), status, limit)
        self._lists.pop(str(room.id), None)
        self._count_decision(status, "decided", count)
        return count

    def _require_lobby(self, room: RoomSnapshot) -> None:
        if not policy.has_lobby(self._settings, room.access_level):
            raise BadRequest("Public rooms have no lobby: everyone joins directly.")

    async def clear_room(self, livekit_room: str) -> None:
        await self.store.clear(livekit_room)
        self._lists.pop(livekit_room, None)


def is_admin(role: Role | None) -> bool:
    return role is not None and role.is_admin
