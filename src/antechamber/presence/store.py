"""The live participant list of each room, kept from `participant_joined`/`_left` webhooks.

A participant is keyed by identity; its `sid` (one per connection) guards against a
`participant_left` of an old connection arriving after the same identity rejoined.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class PresentParticipant:
    identity: str
    sid: str
    name: str
    joined_at: int  # seconds since the epoch, as LiveKit reports it


class PresenceStore(Protocol):
    async def joined(self, room: str, participant: PresentParticipant) -> None: ...

    async def left(self, room: str, identity: str, sid: str) -> None:
        """Forgets the participant, unless it has rejoined since under another sid."""
        ...

    async def participants(self, room: str) -> list[PresentParticipant]:
        """By join time, oldest first."""
        ...

    async def clear_room(self, room: str) -> None: ...


class MemoryPresenceStore:
    """For the single-process embedded default."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, PresentParticipant]] = {}

    async def joined(self, room: str, participant: PresentParticipant) -> None:
        self._rooms.setdefault(room, {})[participant.identity] = participant

    async def left(self, room: str, identity: str, sid: str) -> None:
        present = self._rooms.get(room, {})
        if identity in present and present[identity].sid == sid:
            del present[identity]
            if not present:
                del self._rooms[room]

    async def participants(self, room: str) -> list[PresentParticipant]:
        return ordered(self._rooms.get(room, {}).values())

    async def clear_room(self, room: str) -> None:
        self._rooms.pop(room, None)


def ordered(participants: Iterable[PresentParticipant]) -> list[PresentParticipant]:
    return sorted(participants, key=lambda p: (p.joined_at, p.identity))
