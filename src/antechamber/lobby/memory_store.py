"""The lobby in process memory, for the single-process development run.

Same semantics as the Redis store: no method awaits between reading and writing, so
each transition is atomic on the event loop. The server refuses several workers
without Redis, so nothing here is ever shared between processes.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from antechamber.lobby.store import (
    DecisionOutcome,
    Place,
    PlaceEvent,
    RateLimit,
    RequestOutcome,
    RequestResult,
    Status,
    Timeouts,
    WaitingList,
    events_channel,
)

_versions = itertools.count(1)  # one sequence for the process: a version is never reused


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class _Room:
    places: dict[str, Place]
    deadlines: dict[str, int]
    rate: dict[str, tuple[int, int]]  # client -> (count, window end ms)
    version: int = field(default_factory=lambda: next(_versions))


class MemoryLobbyStore:
    def __init__(
        self,
        timeouts: Timeouts,
        publish: Callable[[str, str], None],
        clock: Callable[[], int] = _now_ms,
        banned: Callable[[str, str], bool] | None = None,
    ) -> None:
        """`banned(room, identity)`: whether a ban keeps that identity out (the memory
        ban store's `banned_now`); None: no bans."""
        self._timeouts = timeouts
        self._publish = publish
        self._clock = clock
        self._banned = banned
        self._rooms: dict[str, _Room] = {}

    def _room(self, room: str) -> _Room:
        state = self._rooms.get(room)
        if state is None:
            state = self._rooms[room] = _Room({}, {}, {})
        now = self._clock()
        for pid in [p for p, deadline in state.deadlines.items() if deadline <= now]:
            place = state.places.pop(pid)
            del state.deadlines[pid]
            if place.status is Status.WAITING:
                self._event(room, place, Status.LEFT)
        return state

    def _event(self, room: str, place: Place, status: Status) -> None:
        state = self._rooms.get(room)
        if state is not None:
            state.version = next(_versions)
        self._publish(events_channel(room), PlaceEvent.of(place, status).message())

    def _waiting_count(self, state: _Room) -> int:
        return sum(1 for p in state.places.values() if p.status is Status.WAITING)

    async def request(
        self,
        room: str,
        participant_id: str,
        identity: str,
        username: str,
        client: str,
        max_waiting: int,
        rate_limit: RateLimit,
    ) -> RequestResult:
        if self._banned is not None and self._banned(room, identity):
            return RequestResult(RequestOutcome.BANNED)
        state = self._room(room)
        now = self._clock()
        place = state.places.get(participant_id)
        if place is not None:
            if place.status is Status.WAITING:
                state.deadlines[participant_id] = now + self._timeouts.waiting_ms
                if place.username != username:
                    place = state.places[participant_id] = replace(place, username=username)
                    self._event(room, place, Status.WAITING)
            return RequestResult(RequestOutcome.EXISTING, place)
        if self._waiting_count(state) >= max_waiting:
            return RequestResult(RequestOutcome.FULL)
        if rate_limit.limit > 0:
            count, window_end = state.rate.get(client, (0, now + rate_limit.window_ms))
            if window_end <= now:
                count, window_end = 0, now + rate_limit.window_ms
            state.rate[client] = (count + 1, window_end)
            if count + 1 > rate_limit.limit:
                return RequestResult(RequestOutcome.LIMITED, retry_after_ms=window_end - now)
        place = Place(participant_id, Status.WAITING, username, identity, now)
        state.places[participant_id] = place
        state.deadlines[participant_id] = now + self._timeouts.waiting_ms
        self._event(room, place, Status.WAITING)
        return RequestResult(RequestOutcome.CREATED, place)

    async def get(self, room: str, participant_id: str, refresh: bool) -> Place | None:
        state = self._room(room)
        place = state.places.get(participant_id)
        if place is not None and refresh and place.status is Status.WAITING:
            state.deadlines[participant_id] = self._clock() + self._timeouts.waiting_ms
        return place

    async def waiting(self, room: str) -> list[Place]:
        places = self._room(room).places.values()
        return sorted(
            (p for p in places if p.status is Status.WAITING),
            key=lambda p: (p.requested_at_ms, p.id),
        )

    async def waiting_list(self, room: str) -> WaitingList:
        places = await self.waiting(room)
        version, fresh_ms = await self.version(room)
        return WaitingList(places, version, fresh_ms)

    async def version(self, room: str) -> tuple[str, int]:
        state = self._room(room)
        if not state.deadlines:
            return str(state.version), -1
        return str(state.version), max(0, min(state.deadlines.values()) - self._clock())

    async def decide(
        self, room: str, participant_id: str, status: Status
    ) -> tuple[DecisionOutcome, Place | None]:
        state = self._room(room)
        place = state.places.get(participant_id)
        if place is None:
            return DecisionOutcome.MISSING, None
        if place.status is status:
            return DecisionOutcome.SAME, place
        if place.status is not Status.WAITING:
            return DecisionOutcome.CONFLICT, place
        place = self._set(room, state, place, status)
        return DecisionOutcome.DECIDED, place

    def _set(self, room: str, state: _Room, place: Place, status: Status) -> Place:
        place = state.places[place.id] = replace(place, status=status)
        state.deadlines[place.id] = self._clock() + self._timeouts.for_status(status)
        self._event(room, place, status)
        return place

    async def decide_all(self, room: str, status: Status, limit: int | None = None) -> int:
        state = self._room(room)
        waiting = await self.waiting(room)
        if limit is not None:
            waiting = waiting[: max(0, limit)]
        for place in waiting:
            self._set(room, state, place, status)
        return len(waiting)

    async def forget(self, room: str, participant_id: str) -> bool:
        state = self._room(room)
        place = state.places.pop(participant_id, None)
        if place is None:
            return False
        del state.deadlines[participant_id]
        self._event(room, place, Status.LEFT)
        return True

    async def forget_identity(self, room: str, identity: str) -> int:
        state = self._room(room)
        matches = [p.id for p in state.places.values() if p.identity == identity]
        for pid in matches:
            await self.forget(room, pid)
        return len(matches)

    async def find_identity(self, room: str, identity: str) -> Place | None:
        places = self._room(room).places.values()
        return next((p for p in places if p.identity == identity), None)

    async def requeue(self, room: str, participant_id: str, identity: str, username: str) -> Place:
        state = self._room(room)
        now = self._clock()
        place = Place(participant_id, Status.WAITING, username, identity, now)
        state.places[participant_id] = place
        state.deadlines[participant_id] = now + self._timeouts.waiting_ms
        self._event(room, place, Status.WAITING)
        return place

    async def clear(self, room: str) -> None:
        state = self._rooms.pop(room, None)
        if state is None:
            return
        for place in state.places.values():
            self._event(room, place, Status.LEFT)

    async def close(self) -> None:
        self._rooms.clear()
