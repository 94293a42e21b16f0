"""Tells a live room that someone started waiting, as La Suite Meet's front end expects:
a reliable LiveKit data message `{"type": "participantWaiting"}`.

Fire and forget: the lobby works without LiveKit, so a failure is logged, never raised.
Cheap for a burst of arrivals:
- only a live room is told: the presence kept from LiveKit's webhooks says whether anyone
  is in it (LiveKit holds a SendData to a room that isn't live for seconds, then answers
  503);
- coalesced per room: the message only says "the list changed", so each process has at
  most one call in flight per room and one more pending; every arrival while a call is in
  flight is covered by that pending one.
"""

from __future__ import annotations

import asyncio
import logging

from antechamber.livekit.gateway import LiveKitGateway
from antechamber.presence.store import PresenceStore

logger = logging.getLogger(__name__)
PARTICIPANT_WAITING = b'{"type": "participantWaiting"}'


class WaitingNotifier:
    def __init__(self, sender: LiveKitGateway, presence: PresenceStore) -> None:
        self._sender = sender
        self._presence = presence
        self._running: set[str] = set()  # rooms with a task telling them
        self._pending: set[str] = set()  # rooms to tell once more when that task's call ends
        self._tasks: set[asyncio.Task[None]] = set()

    def participant_waiting(self, room: str) -> None:
        if room in self._running:
            self._pending.add(room)
            return
        self._running.add(room)
        task = asyncio.create_task(self._tell(self._sender, room))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _tell(self, sender: LiveKitGateway, room: str) -> None:
        try:
            while True:
                self._pending.discard(room)  # this call covers every arrival until now
                await self._send(sender, room)
                if room not in self._pending:
                    return
        finally:
            self._running.discard(room)

    async def _send(self, sender: LiveKitGateway, room: str) -> None:
        try:
            if await self._presence.count(room) == 0:
                return  # nobody in the room: nobody to tell
            await sender.send_data(room, PARTICIPANT_WAITING)
        except Exception as exc:  # noqa: BLE001 - never fail the lobby because of LiveKit
            logger.warning("could not tell room %s that someone waits: %s", room, exc)

    async def drain(self) -> None:
        """Waits for notifications still in flight (shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
