"""A clean stop: on SIGTERM (or SIGINT) the process stops being ready at once, ends its
event streams itself (with a last event telling clients to reconnect, elsewhere), lets
in-flight requests finish, and exits within `ANTECHAMBER_SHUTDOWN_TIMEOUT_S`.

The server (uvicorn) owns the signals: it stops accepting connections and waits for the
open ones. It knows nothing of long-lived streams, so without this it would wait for
them until its time-out. The app chains its own step in front of the server's handler.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

logger = logging.getLogger(__name__)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Shutdown:
    """Whether this process is stopping, and who must hear of it when it starts."""

    def __init__(self) -> None:
        self.draining = False
        self._callbacks: list[Callable[[], None]] = []

    def on_drain(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def begin(self) -> None:
        if self.draining:
            return
        self.draining = True
        logger.info("stopping: not ready any more, ending event streams")
        for callback in self._callbacks:
            try:
                callback()
            except Exception:
                logger.exception("a shutdown step failed")


def chain_stop_signals(shutdown: Shutdown, delay_s: float) -> Callable[[], None]:
    """Puts `shutdown.begin()` in front of the server's own stop handlers, then lets the
    server stop `delay_s` later (time for a balancer to see /readyz fail). Returns what
    restores the server's handlers.

    Only where a server has installed handlers of its own: in-process test apps and
    other embedders keep their signals untouched.
    """
    if not callable(signal.getsignal(signal.SIGTERM)):
        return lambda: None
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        server_handler = previous[signum]
        if shutdown.draining:
            # A second signal: the server's own behaviour (a forced stop on SIGINT).
            server_handler(signum, frame)
            return
        # Signal handlers run between two bytecodes of the loop's thread: hand over to
        # the loop rather than touch its state from here.
        loop.call_soon_threadsafe(shutdown.begin)
        loop.call_soon_threadsafe(loop.call_later, delay_s, server_handler, signum, frame)

    for signum in STOP_SIGNALS:
        current = signal.getsignal(signum)
        if callable(current):
            previous[signum] = current
            signal.signal(signum, handler)

    def restore() -> None:
        for signum, server_handler in previous.items():
            if signal.getsignal(signum) is handler:
                signal.signal(signum, server_handler)

    return restore
