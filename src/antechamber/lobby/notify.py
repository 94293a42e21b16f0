"""Tells a live room that someone started waiting, as La Suite Meet's front end expects:
a reliable LiveKit data message `{"type": "participantWaiting"}`.

Fire and forget: the lobby works without LiveKit, so a failure is logged, never raised.
"""

from __future__ import annotations

import asyncio
import logging

from antechamber.livekit.gateway import LiveKitGateway

logger = logging.getLogger(__name__)
PARTICIPANT_WAITING = b'{"type": "participantWaiting"}'


class WaitingNotifier:
    def __init__(self, sender: LiveKitGateway) -> None:
        self._sender = sender
        self._tasks: set[asyncio.Task[None]] = set()

    def participant_waiting(self, room: str) -> None:
        task = asyncio.create_task(self._send(self._sender, room))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, sender: LiveKitGateway, room: str) -> None:
        try:
            await sender.send_data(room, PARTICIPANT_WAITING)
        except Exception as exc:  # noqa: BLE001 - never fail the lobby because of LiveKit
            logger.warning("could not tell room %s that someone waits: %s", room, exc)

    async def drain(self) -> None:
        """Waits for notifications still in flight (shutdown, tests)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
