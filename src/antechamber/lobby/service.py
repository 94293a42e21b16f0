"""The lobby's rules: who waits, and how admins decide. Who skips it (and with which
token) is admission's decision (`antechamber.admission`).

This service is the lobby's only door: nothing else reaches its store.
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

from antechamber.admission.service import REMOVED, AdmissionService
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


# How long a cached waiting list is served without asking Redis; after that, one O(1)
# version read tells whether it is still the list (events drop it sooner).
LIST_CACHE_TTL_S = 1.0
LIST_KEPT_S = 60.0  # a list nobody asked for this long is dropped
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
        self._lists: TTLMap[str, _CachedList] = TTLMap(max_entries=MAX_CACHED_LISTS)
        self._loading: dict[str, asyncio.Future[_CachedList]] = {}

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
        if result.outcome is RequestOutcome.BANNED:  # read by the same script: one round trip
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
        """Any change publishes an event that drops the entry on every process
        (`on_event`); past `until`, the lobby's version says whether it is still right."""
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
        # Cached only if no event dropped the room meanwhile (an event forgets the load).
        if self._loading.get(room_id) is done:
            del self._loading[room_id]
            if not done.cancelled() and done.exception() is None:
                self._lists.put(room_id, done.result(), LIST_KEPT_S)
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
        room = room_of_channel(channel)
        if room is not None:
            self._forget_list(room)

    def _forget_list(self, room_id: str) -> None:
        self._lists.discard(room_id)
        self._loading.pop(room_id, None)

    async def decide(self, room: RoomSnapshot, participant_id: uuid.UUID, allow: bool) -> Place:
        self.require_lobby(room.access_level)
        status = Status.ACCEPTED if allow else Status.DENIED
        if allow and await self._admission.free_places(room) == 0:
            cap = room.configuration.max_participants
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
        self.require_lobby(room.access_level)
        limit = None
        if allow:
            # Admits the oldest up to the cap; the others keep waiting.
            limit = await self._admission.free_places(room)
        status = Status.ACCEPTED if allow else Status.DENIED
        count = await self.store.decide_all(str(room.id), status, limit)
        self._forget_list(str(room.id))
        self._count_decision(status, "decided", count)
        return count

    def require_lobby(self, access_level: AccessLevel) -> None:
        if not policy.has_lobby(self._settings, access_level):
            raise BadRequest(NO_LOBBY)

    async def clear_room(self, livekit_room: str) -> None:
        await self.store.clear(livekit_room)
        self._forget_list(livekit_room)

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
