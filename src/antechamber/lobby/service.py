"""The lobby's rules: who skips it, who waits, and how admins decide.

Who may join directly is re-evaluated on every call (never remembered): a room made
public admits its waiting people on their next poll; a role removed sends its holder to
the lobby next time.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from antechamber.auth.caller import Caller
from antechamber.errors import (
    BadRequest,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
)
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


# How long a cached waiting list is served without asking Redis; after that, one O(1)
# version read tells whether it is still the list (events drop it sooner).
LIST_CACHE_TTL_S = 1.0
MAX_CACHED_LISTS = 10_000
MAX_WAITING_PAGE = 1000


@dataclass
class _CachedList:
    version: str
    places: list[Place]
    order: list[tuple[int, str]]  # (requested_at ms, id) of each place: cursors' positions
    body: bytes  # the whole list, encoded once
    until: float  # monotonic time until which it is served without a version check


def _lifetime_s(fresh_ms: int) -> float:
    """Served without a check until the next deadline at most: a place that expires
    without an event (nobody touched the room) never shows past its deadline."""
    return LIST_CACHE_TTL_S if fresh_ms < 0 else min(LIST_CACHE_TTL_S, fresh_ms / 1000)


def page_cursor(place: Place) -> str:
    return f"{place.requested_at_ms}.{place.id}"


def parse_cursor(value: str) -> tuple[int, str]:
    ms, _, pid = value.partition(".")
    if not (ms.isascii() and ms.isdigit()) or not pid or len(ms) > 16:
        raise InvalidInput(
            "after", "Not a cursor: give the `next` value of the previous page unchanged."
        )
    return int(ms), pid


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
        self._lists: dict[str, _CachedList] = {}
        self._loading: dict[str, asyncio.Future[_CachedList]] = {}

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
        chosen = requested_display_name(username)
        full_name = caller.user.full_name if caller.user else None
        name = display_name(self._settings, chosen, full_name, caller.is_authenticated)
        role = await rooms.role_of(db, room.id, caller.user)
        cap = room.configuration.max_participants
        if policy.may_join(self._settings, room.access_level, caller, role):
            await self.refuse_banned(str(room.id), caller.identity)
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
        # The ban is read by the same script (one round trip per poll).
        self._count_request(result.outcome.value)
        if result.outcome is RequestOutcome.BANNED:
            raise PermissionDenied(REMOVED)
        if result.outcome is RequestOutcome.FULL:
            raise Conflict("The lobby of this room is full; try again later.")
        if result.outcome is RequestOutcome.LIMITED:
            raise RateLimited(
                "Too many requests to enter from this address; slow down.",
                retry_after=max(1, -(-result.retry_after_ms // 1000)),
            )
        assert result.place is not None
        if result.outcome is RequestOutcome.CREATED:
            self._forget_list(str(room.id))  # don't wait for our own event
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

    async def waiting_json(
        self, room: RoomSnapshot, limit: int | None = None, after: str | None = None
    ) -> bytes:
        """The admins' list: whole (encoded once per change of the room's lobby, reused by
        every admin poll on this process), or with `limit`/`after` a page of it and the
        cursor of the next page (`next`, null on the last page)."""
        start = None if after is None else parse_cursor(after)
        listing = await self._cached_list(str(room.id))
        if limit is None and start is None:
            return listing.body
        first = 0 if start is None else bisect.bisect_right(listing.order, start)
        stop = len(listing.places) if limit is None else first + limit
        page = listing.places[first:stop]
        more = stop < len(listing.places) and bool(page)
        body = {
            "participants": [place_json(p) for p in page],
            "next": page_cursor(page[-1]) if more else None,
        }
        return json.dumps(body, separators=(",", ":")).encode()

    async def _cached_list(self, room_id: str) -> _CachedList:
        cached = self._lists.get(room_id)
        if cached is not None and cached.until > time.monotonic():
            return cached
        # One load per room at a time on this process, whoever asks meanwhile.
        loading = self._loading.get(room_id)
        if loading is None:
            loading = asyncio.ensure_future(self._load_list(room_id, cached))
            self._loading[room_id] = loading
            loading.add_done_callback(lambda done: self._loaded(room_id, done))
        return await asyncio.shield(loading)

    def _loaded(self, room_id: str, done: asyncio.Future[_CachedList]) -> None:
        # Cached only if no event dropped the room meanwhile (on_event forgets the load).
        if self._loading.get(room_id) is done:
            del self._loading[room_id]
            if not done.cancelled() and done.exception() is None:
                if len(self._lists) >= MAX_CACHED_LISTS:
                    self._lists.clear()
                self._lists[room_id] = done.result()
        elif not done.cancelled():
            done.exception()  # retrieved: a failed load is the waiters' error, not a log line

    async def _load_list(self, room_id: str, cached: _CachedList | None) -> _CachedList:
        if cached is not None:
            version, fresh_ms = await self.store.version(room_id)
            if version == cached.version:  # unchanged: O(1), whatever the list's size
                cached.until = time.monotonic() + _lifetime_s(fresh_ms)
                return cached
        listing = await self.store.waiting_list(room_id)
        self._count_list(listing.places)
        body = json.dumps(
            {"participants": [place_json(p) for p in listing.places]}, separators=(",", ":")
        ).encode()
        return _CachedList(
            listing.version,
            listing.places,
            [(p.requested_at_ms, p.id) for p in listing.places],
            body,
            time.monotonic() + _lifetime_s(listing.fresh_ms),
        )

    def on_event(self, channel: str, _message: str) -> None:
        """Broker listener: a lobby event drops that room's cached list."""
        if channel.startswith("lobby:{") and channel.endswith("}:events"):
            self._forget_list(channel[len("lobby:{") : -len("}:events")])

    def _forget_list(self, room_id: str) -> None:
        self._lists.pop(room_id, None)
        self._loading.pop(room_id, None)

    async def decide(self, room: RoomSnapshot, participant_id: uuid.UUID, allow: bool) -> Place:
        self._require_lobby(room)
        status = Status.ACCEPTED if allow else Status.DENIED
        cap = room.configuration.max_participants
        if allow and await capacity.free_places(self._presence, str(room.id), cap) == 0:
            assert cap is not None
            raise capacity.full(cap)
        outcome, place = await self.store.decide(str(room.id), str(participant_id), status)
        self._forget_list(str(room.id))
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
        self._forget_list(str(room.id))
        self._count_decision(status, "decided", count)
        return count

    def _require_lobby(self, room: RoomSnapshot) -> None:
        if not policy.has_lobby(self._settings, room.access_level):
            raise BadRequest("Public rooms have no lobby: everyone joins directly.")

    async def clear_room(self, livekit_room: str) -> None:
        await self.store.clear(livekit_room)
        self._forget_list(livekit_room)


def is_admin(role: Role | None) -> bool:
    return role is not None and role.is_admin
