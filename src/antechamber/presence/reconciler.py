"""Reconciliation of each room with what LiveKit reports (`ListParticipants`).

Webhooks arrive late, twice, out of order or not at all; the reconciler doesn't depend on
them. For one room it lists LiveKit's participants, removes those whose identity is
banned, and brings the participant list in line (compare-and-set per participant, so a
webhook handled meanwhile is never overwritten with an older view).

Each process runs one loop:
- every `banned_interval_s`, the rooms with a ban in force (so a banned participant who
  came back with an old or refreshed token is removed even when no webhook arrives);
- every `interval_s`, every live registered room (one ListRooms) and every room that
  still has a participant list (so a room whose `room_finished` was lost is cleared);
- at once, rooms a webhook asked for (a `left` for someone never listed).
A room's turn is taken in Redis for the period, so across all processes each room is
reconciled about once per period, and a lock keeps it to one reconciler at a time.
A pass handles at most `max_rooms` rooms with `concurrency` LiveKit calls in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from redis.exceptions import RedisError

from antechamber.bans import BanStore
from antechamber.errors import DomainError, NotFound
from antechamber.livekit.gateway import LiveKitGateway, ParticipantInfo
from antechamber.presence.store import Change, PresenceStore, PresentParticipant
from antechamber.presence.turns import Turns, lock_key, turn_key
from antechamber.settings import ReconcileSettings

logger = logging.getLogger(__name__)
RegisteredAmong = Callable[[Sequence[str]], Awaitable[set[str]]]
_DISCONNECTED = ParticipantInfo.State.DISCONNECTED
_rng = random.SystemRandom()


@dataclass(frozen=True)
class Outcome:
    removed: tuple[str, ...]  # banned identities removed from LiveKit
    changed: int  # participant-list entries added, updated or dropped


def present(info: ParticipantInfo) -> PresentParticipant:
    return PresentParticipant(
        identity=info.identity, sid=info.sid, name=info.name, joined_at=info.joined_at
    )


class Reconciler:
    def __init__(
        self,
        settings: ReconcileSettings,
        livekit_timeout_s: float,
        livekit: LiveKitGateway,
        presence: PresenceStore,
        bans: BanStore,
        turns: Turns,
        registered_among: RegisteredAmong,
    ) -> None:
        self._settings = settings
        self._livekit = livekit
        self._presence = presence
        self._bans = bans
        self._turns = turns
        self._registered_among = registered_among
        # A reconcile makes two rounds of LiveKit calls, each bounded by its time-out.
        self._lock_ms = int((3 * livekit_timeout_s + 5) * 1000)
        self._requested: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._limit = asyncio.Semaphore(settings.concurrency)

    # One room -----------------------------------------------------------------------

    async def reconcile_room(self, room: str) -> Outcome | None:
        """None when another process is reconciling the room right now, or LiveKit
        (or Redis) can't be asked."""
        key = lock_key(room)
        try:
            token = await self._turns.lock(key, self._lock_ms)
            if token is None:
                return None
            try:
                return await self._reconcile(room)
            finally:
                await self._turns.unlock(key, token)
        except DomainError as exc:
            logger.info("room %s not reconciled: %s", room, exc.detail)
        except (RedisError, ConnectionError, TimeoutError, OSError) as exc:
            # Redis or LiveKit down: the next period tries again; one line, no traceback.
            logger.warning("room %s not reconciled: %s", room, type(exc).__name__)
        return None

    async def _reconcile(self, room: str) -> Outcome:
        # The list first, LiveKit second: a webhook handled in between then shows as a
        # changed sid, and the compare-and-set leaves it alone.
        stored = {p.identity: p for p in await self._presence.participants(room)}
        try:
            live = await self._livekit.list_participants(room)
        except NotFound:  # not live (LiveKit usually answers an empty list instead)
            live = []
        live = [p for p in live if p.state != _DISCONNECTED]
        banned = await self._bans.banned_among(room, [p.identity for p in live])
        await asyncio.gather(*(self._remove(room, identity) for identity in sorted(banned)))
        desired = {p.identity: present(p) for p in live if p.identity not in banned}
        changes = [Change(i, p.sid, None) for i, p in stored.items() if i not in desired]
        changes += [
            Change(i, stored[i].sid if i in stored else "", p)
            for i, p in desired.items()
            if stored.get(i) != p
        ]
        changed = await self._presence.apply(room, changes)
        if banned:
            logger.info("removed %d banned participant(s) from room %s", len(banned), room)
        return Outcome(removed=tuple(sorted(banned)), changed=changed)

    async def _remove(self, room: str, identity: str) -> None:
        with contextlib.suppress(NotFound):  # gone already
            await self._livekit.remove_participant(room, identity)

    # Passes ---------------------------------------------------------------------------

    def request(self, room: str) -> None:
        """Reconcile this room soon (a webhook looked out of order)."""
        self._requested.add(room)
        self._wake.set()

    async def banned_pass(self) -> int:
        rooms = await self._bans.rooms_with_bans(self._settings.max_rooms)
        period_ms = int(self._settings.banned_interval_s * 1000)
        return await self._take_turns(rooms, "banned", period_ms)

    async def full_pass(self) -> int:
        live = [room.name for room in await self._livekit.list_rooms()]
        registered = await self._registered_among(live)
        listed = await self._presence.rooms(self._settings.max_rooms)
        rooms = list(dict.fromkeys([*(r for r in live if r in registered), *listed]))
        period_ms = int(self._settings.interval_s * 1000)
        return await self._take_turns(rooms[: self._settings.max_rooms], "all", period_ms)

    async def _take_turns(self, rooms: Iterable[str], kind: str, period_ms: int) -> int:
        async def one(room: str) -> bool:
            async with self._limit:
                if not await self._turns.take(turn_key(room, kind), period_ms):
                    return False
                return await self.reconcile_room(room) is not None

        done = await asyncio.gather(*(one(room) for room in rooms))
        return sum(done)

    async def _requested_pass(self) -> None:
        rooms, self._requested = self._requested, set()

        async def one(room: str) -> None:
            async with self._limit:
                await self.reconcile_room(room)

        await asyncio.gather(*(one(room) for room in rooms))

    # The loop -------------------------------------------------------------------------

    def start(self) -> None:
        if self._settings.enabled and self._task is None:
            self._task = asyncio.create_task(self._run(), name="reconciler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        settings = self._settings
        now = time.monotonic()
        # Random phases, so processes started together don't all ask at once; the first
        # sweep waits at least half a period (other processes, if any, are covering).
        next_banned = now + _rng.uniform(0, settings.banned_interval_s)
        next_all = now + _rng.uniform(0.5, 1.0) * settings.interval_s
        while True:
            delay = max(0.0, min(next_banned, next_all) - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            await self._guarded("requested", self._requested_pass())
            now = time.monotonic()
            if now >= next_banned:
                next_banned = now + settings.banned_interval_s
                await self._guarded("banned", self.banned_pass())
            if now >= next_all:
                next_all = now + settings.interval_s
                await self._guarded("full", self.full_pass())

    @staticmethod
    async def _guarded(what: str, work: Awaitable[object]) -> None:
        try:
            await work
        except DomainError as exc:
            logger.info("reconciliation pass (%s) skipped: %s", what, exc.detail)
        except (RedisError, ConnectionError, TimeoutError, OSError) as exc:
            logger.warning("reconciliation pass (%s) skipped: %s", what, type(exc).__name__)
        except Exception:  # the loop outlives any one failure
            logger.exception("reconciliation pass (%s) failed", what)
