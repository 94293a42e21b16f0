"""The live participant list of each room, kept from `participant_joined`/`_left` webhooks
and reconciled with LiveKit's `ListParticipants`.

A participant is keyed by identity; its `sid` (one per connection) guards against a
`participant_left` of an old connection arriving after the same identity rejoined. A
`left` leaves a tombstone for its sid, so a `joined` of that connection delivered late
(after its `left`) is ignored: the list converges whatever order webhooks arrive in.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

# How long a `left` is remembered against a late `joined` of the same connection;
# LiveKit retries a webhook for minutes, not hours.
TOMBSTONE_TTL_S = 3600


@dataclass(frozen=True)
class PresentParticipant:
    identity: str
    sid: str
    name: str
    joined_at: int  # seconds since the epoch, as LiveKit reports it


class Left(enum.Enum):
    REMOVED = "removed"  # it was listed under that connection, and is gone now
    STALE = "stale"  # listed under a newer connection: kept
    UNKNOWN = "unknown"  # not listed at all: a `left` without its `joined` (out of order)


@dataclass(frozen=True)
class Change:
    """Reconciliation: set `identity` to `new` (None: remove it), only if its stored sid
    is still `expected_sid` ("" for absent), i.e. no webhook changed it meanwhile."""

    identity: str
    expected_sid: str
    new: PresentParticipant | None


class PresenceStore(Protocol):
    async def joined(self, room: str, participant: PresentParticipant) -> bool:
        """False when ignored: that connection already left."""
        ...

    async def left(self, room: str, identity: str, sid: str) -> Left:
        """Forgets the participant, unless it has rejoined since under another sid."""
        ...

    async def participants(self, room: str) -> list[PresentParticipant]:
        """By join time, oldest first."""
        ...

    async def count(self, room: str) -> int: ...

    async def apply(self, room: str, changes: Sequence[Change]) -> int:
        """Applies the changes whose expectation still holds; returns how many did."""
        ...

    async def rooms(self, limit: int) -> list[str]:
        """Rooms that have (or recently had) a listed participant."""
        ...

    async def clear_room(self, room: str) -> None: ...


class MemoryPresenceStore:
    """For the single-process embedded default."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, PresentParticipant]] = {}
        self._gone: dict[str, float] = {}  # sid -> until (monotonic)

    def _is_gone(self, sid: str) -> bool:
        return self._gone.get(sid, 0.0) > time.monotonic()

    async def joined(self, room: str, participant: PresentParticipant) -> bool:
        if self._is_gone(participant.sid):
            return False
        self._rooms.setdefault(room, {})[participant.identity] = participant
        return True

    async def left(self, room: str, identity: str, sid: str) -> Left:
        now = time.monotonic()
        if len(self._gone) > 10_000:
            self._gone = {s: t for s, t in self._gone.items() if t > now}
        self._gone[sid] = now + TOMBSTONE_TTL_S
        present = self._rooms.get(room, {})
        if identity not in present:
            return Left.UNKNOWN
        if present[identity].sid != sid:
            return Left.STALE
        del present[identity]
        if not present:
            del self._rooms[room]
        return Left.REMOVED

    async def participants(self, room: str) -> list[PresentParticipant]:
        return ordered(self._rooms.get(room, {}).values())

    async def count(self, room: str) -> int:
        return len(self._rooms.get(room, {}))

    async def apply(self, room: str, changes: Sequence[Change]) -> int:
        present = self._rooms.setdefault(room, {})
        applied = 0
        for change in changes:
            current = present.get(change.identity)
            if (current.sid if current else "") != change.expected_sid:
                continue
            if change.new is None:
                present.pop(change.identity, None)
            else:
                present[change.identity] = change.new
            applied += 1
        if not present:
            del self._rooms[room]
        return applied

    async def rooms(self, limit: int) -> list[str]:
        return list(self._rooms)[:limit]

    async def clear_room(self, room: str) -> None:
        self._rooms.pop(room, None)


def ordered(participants: Iterable[PresentParticipant]) -> list[PresentParticipant]:
    return sorted(participants, key=lambda p: (p.joined_at, p.identity))
