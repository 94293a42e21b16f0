"""The participant cap of a room (`configuration.max_participants`), checked wherever
someone enters: a token, a lobby admission. LiveKit enforces the same cap on connection:
every token carries it as the room configuration LiveKit creates the room with (its
`max_participants`), so a token handed out earlier, or refreshed by LiveKit, can't
bypass it. LiveKit can't change the cap of a room while it is live (CreateRoom on a live
room only updates its stored copy), so a new cap reaches LiveKit with the room's next
session; this service applies it at once.

Who is in the room comes from the participant list (webhooks, reconciled with LiveKit).
Someone already listed is never refused (a reconnection, a second tab of the same
identity takes no new place).
"""

from __future__ import annotations

from antechamber.errors import Conflict
from antechamber.presence.store import PresenceStore


def full(cap: int) -> Conflict:
    return Conflict(f"This room is full: it admits at most {cap} participants at once.")


async def require_room_for(
    presence: PresenceStore, livekit_room: str, cap: int | None, identity: str
) -> None:
    if cap is None:
        return
    listed = await presence.participants(livekit_room)
    if len(listed) >= cap and identity not in {p.identity for p in listed}:
        raise full(cap)


async def free_places(presence: PresenceStore, livekit_room: str, cap: int | None) -> int | None:
    """How many more may enter; None without a cap."""
    if cap is None:
        return None
    return max(0, cap - await presence.count(livekit_room))
