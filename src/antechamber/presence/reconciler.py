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
The two periodic passes run in one process at a time across all processes and hosts: the
one holding the reconciler's lease in Redis (one per LiveKit deployment; `LEASE_S`,
renewed every `LEASE_RENEW_S` by each process' lease task, given back when the process
stops; a crashed holder's lease ends by itself and another process takes it at its next
try). With N processes, N ListRooms per period would only load LiveKit. The requested
passes run where the webhook arrived. A room's turn is also taken in Redis for the
period, so each room is reconciled about once per period even while the lease changes
hands, and a lock keeps it to one reconciler at a time. A pass handles at most
`max_rooms` rooms with `concurrency` LiveKit calls in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from redis.exceptions import RedisError

from antechamber.bans import BanStore
from antechamber.errors import DomainError, NotFound
from antechamber.livekit.gateway import LiveKitGateway
from antechamber.livekit.models import ParticipantInfo, ParticipantState
from antechamber.presence.store import Change, PresenceStore, PresentParticipant
from antechamber.presence.turns import LEASE_KEY, Turns, lock_key, turn_key
from antechamber.settings import ReconcileSettings

logger = logging.getLogger(__name__)
RegisteredAmong = Callable[[Sequence[str]], Awaitable[set[str]]]
_rng = random.SystemRandom()
# How long a stop waits for a pass in progress to notice it (the pass's LiveKit calls are
# cancelled; this bound only matters if a cancellation is lost).
STOP_TIMEOUT_S = 5.0
# The lease on the periodic passes: how long it lasts, how often each process tries to
# take or renew it. A holder whose event loop stalls longer than the lease loses it to
# another process (which then runs the passes too): harmless.
LEASE_S = 5.0
LEASE_RENEW_S = 1.0


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
        lease: str = LEASE_KEY,
    ) -> None:
        """`lease`: the key of the lease on the periodic passes (`turns.lease_key`)."""
        self._settings = settings
        self._lease = lease
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
        self._lease_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._limit = asyncio.Semaphore(settings.concurrency)
        # This process' claim on the lease, and whether it held it at the last try.
        self._lease_token = secrets.token_hex(8)
        self._leading = False

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
        live = [p for p in live if p.state != ParticipantState.DISCONNECTED]
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

    @property
    def leading(self) -> bool:
        """Whether this process ran the periodic passes at its last lease try."""
        return self._leading

    def start(self) -> None:
        if self._settings.enabled and self._task is None:
            self._stopping = False
            self._lease_task = asyncio.create_task(self._keep_lease(), name="reconciler-lease")
            self._task = asyncio.create_task(self._run(), name="reconciler")

    async def stop(self) -> None:
        """Ends the loop. Never `await task` after `cancel()`: on Python 3.11 a
        cancellation that arrives as `asyncio.wait_for` returns is lost, the loop goes on,
        and the stop waited for it forever (seen once in the tests' app shut-downs). The
        loop also checks `_stopping` at each turn, and the wait here is bounded."""
        task, self._task = self._task, None
        lease_task, self._lease_task = self._lease_task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        tasks = {task} if lease_task is None else {task, lease_task}
        for each in tasks:
            each.cancel()
        _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
        if pending:
            logger.warning("the reconciler did not stop within %.0f s", STOP_TIMEOUT_S)
        await self._release_lease()

    async def _keep_lease(self) -> None:
        while not self._stopping:
            try:
                self._leading = await self._turns.hold(
                    self._lease, self._lease_token, int(LEASE_S * 1000)
                )
            except (RedisError, ConnectionError, TimeoutError, OSError) as exc:
                # Redis down: nobody can tell who leads; the passes need Redis anyway.
                self._leading = False
                logger.debug("reconciler lease not renewed: %s", type(exc).__name__)
            except Exception:  # the loop outlives any one failure, leading nothing
                self._leading = False
                logger.exception("reconciler lease not renewed")
            await asyncio.sleep(LEASE_RENEW_S)

    async def _release_lease(self) -> None:
        """Gives the lease back at once, so another process takes over at its next try."""
        if not self._leading:
            return
        self._leading = False
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await self._turns.unlock(self._lease, self._lease_token)
        except (RedisError, ConnectionError, TimeoutError, OSError) as exc:
            logger.warning("reconciler lease not given back: %s", type(exc).__name__)

    async def _run(self) -> None:
        settings = self._settings
        now = time.monotonic()
        # Random phases, so processes started together don't all ask at once; the first
        # sweep waits at least half a period (other processes, if any, are covering).
        next_banned = now + _rng.uniform(0, settings.banned_interval_s)
        next_all = now + _rng.uniform(0.5, 1.0) * settings.interval_s
        while not self._stopping:
            delay = max(0.0, min(next_banned, next_all) - time.monotonic())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            if self._stopping:
                return
            self._wake.clear()
            await self._guarded("requested", self._requested_pass())
            now = time.monotonic()
            # Another process holds the lease: these passes are its.
            if now >= next_banned:
                next_banned = now + settings.banned_interval_s
                if self._leading:
                    await self._guarded("banned", self.banned_pass())
            if now >= next_all:
                next_all = now + settings.interval_s
                if self._leading:
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
