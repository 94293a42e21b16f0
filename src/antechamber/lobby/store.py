"""The lobby store: where waiting places live, and the only place they change.

Every transition is atomic (a Lua script in Redis, a synchronous section in memory):
start waiting, refresh, accept, deny, expire, forget, clear a room. A decision is
compare-and-set on `waiting`, so of two concurrent decisions exactly one wins, and an
expired place is purged before any decision, so it can't be revived.

Each state change is published on the room's channel (`events_channel(room)`) as a
`PlaceEvent` (JSON `{"id", "status", "username", "requested_at"}`, status `waiting`,
`accepted`, `denied` or `left`: expired, forgotten, cleared). The Redis store's Lua
`publish` writes the same four keys.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Protocol


class Status(enum.StrEnum):
    WAITING = "waiting"
    ACCEPTED = "accepted"
    DENIED = "denied"
    LEFT = "left"  # only in events: the place is gone


STATUS_CODES = {"w": Status.WAITING, "a": Status.ACCEPTED, "d": Status.DENIED}
CODES = {status: code for code, status in STATUS_CODES.items()}


@dataclass(frozen=True)
class Place:
    id: str  # public participant id
    status: Status
    username: str
    identity: str  # the LiveKit identity it will join with
    requested_at_ms: int


@dataclass(frozen=True)
class PlaceEvent:
    """A change of one place, as published on the room's channel."""

    id: str
    status: str  # a Status value
    username: str
    requested_at_ms: int

    @classmethod
    def of(cls, place: Place, status: Status) -> PlaceEvent:
        return cls(place.id, status.value, place.username, place.requested_at_ms)

    def message(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "status": self.status,
                "username": self.username,
                "requested_at": self.requested_at_ms,
            }
        )

    @classmethod
    def parse(cls, message: str) -> PlaceEvent:
        raw = json.loads(message)
        return cls(
            str(raw.get("id", "")),
            str(raw.get("status", "")),
            str(raw.get("username", "")),
            int(raw.get("requested_at", 0)),
        )


@dataclass(frozen=True)
class Timeouts:
    waiting_ms: int
    accepted_ms: int
    denied_ms: int

    @property
    def longest_ms(self) -> int:
        return max(self.waiting_ms, self.accepted_ms, self.denied_ms)

    def for_status(self, status: Status) -> int:
        if status is Status.ACCEPTED:
            return self.accepted_ms
        if status is Status.DENIED:
            return self.denied_ms
        return self.waiting_ms


class RequestOutcome(enum.Enum):
    CREATED = "created"  # a new place: tell the room someone waits
    EXISTING = "existing"  # the caller's place, refreshed if waiting
    FULL = "full"  # the room's lobby holds its maximum
    LIMITED = "limited"  # too many new places from this address
    BANNED = "banned"  # the identity is banned from the room: nothing read or written


@dataclass(frozen=True)
class RequestResult:
    outcome: RequestOutcome
    place: Place | None = None
    retry_after_ms: int = 0


@dataclass(frozen=True)
class WaitingList:
    """The waiting places (oldest first) with the lobby's version when they were read.

    `version` changes with every change of the room's lobby (an event published), so an
    equal version means an equal list; `fresh_ms` is how long the list stays right unless
    a version change says otherwise (until the next place's deadline; -1: no place)."""

    places: list[Place]
    version: str
    fresh_ms: int


class DecisionOutcome(enum.Enum):
    DECIDED = "decided"
    SAME = "same"  # already decided the same way: idempotent success
    CONFLICT = "conflict"  # another decision won
    MISSING = "missing"  # no such place (never was, expired, forgotten)


@dataclass(frozen=True)
class RateLimit:
    """New places allowed per client address and room in a window; 0 disables."""

    limit: int
    window_ms: int = 60_000


class LobbyStore(Protocol):
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
        """Starts waiting, or returns the caller's current place (refreshing a waiting one);
        BANNED, before anything else, when `identity` is banned from the room."""
        ...

    async def get(self, room: str, participant_id: str, refresh: bool) -> Place | None: ...

    async def waiting(self, room: str) -> list[Place]:
        """Waiting places, oldest first."""
        ...

    async def waiting_list(self, room: str) -> WaitingList:
        """Waiting places, oldest first, with the version they were read at."""
        ...

    async def version(self, room: str) -> tuple[str, int]:
        """The lobby's current version and `fresh_ms` (see WaitingList), read in O(1)
        after purging what expired: whether a cached list is still the list."""
        ...

    async def decide(
        self, room: str, participant_id: str, status: Status
    ) -> tuple[DecisionOutcome, Place | None]: ...

    async def decide_all(self, room: str, status: Status, limit: int | None = None) -> int:
        """Decides every waiting place, or the `limit` oldest; returns how many."""
        ...

    async def forget(self, room: str, participant_id: str) -> bool:
        """Removes a place whatever its status (a removed participant's admission)."""
        ...

    async def forget_identity(self, room: str, identity: str) -> int:
        """Removes every place that would join as `identity`."""
        ...

    async def find_identity(self, room: str, identity: str) -> Place | None:
        """A place (any status) that would join as `identity`, if there is one."""
        ...

    async def requeue(self, room: str, participant_id: str, identity: str, username: str) -> Place:
        """Puts someone (back) in the lobby as waiting, whatever their place was."""
        ...

    async def clear(self, room: str) -> None: ...

    async def close(self) -> None: ...


_CHANNEL_HEAD, _CHANNEL_TAIL = "lobby:{", "}:events"
LOBBY_EVENTS_PATTERN = _CHANNEL_HEAD + "*" + _CHANNEL_TAIL  # braces aren't special in patterns


def events_channel(room: str) -> str:
    return _CHANNEL_HEAD + room + _CHANNEL_TAIL


def room_of_channel(channel: str) -> str | None:
    """The room whose events `channel` carries (`events_channel`'s inverse); None for
    another channel."""
    if channel.startswith(_CHANNEL_HEAD) and channel.endswith(_CHANNEL_TAIL):
        return channel[len(_CHANNEL_HEAD) : -len(_CHANNEL_TAIL)]
    return None
