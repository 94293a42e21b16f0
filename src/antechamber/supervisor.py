"""The supervisor of `serve --workers N`: uvicorn's, with a listening socket per worker.

With one listening socket shared by every worker (uvicorn's way), whichever worker wakes
first accepts a whole burst of connections: ten keep-alive connections opened at once (a
load generator, or a reverse proxy's upstream pool) often all land on one worker, which
then serves everything while the others idle; throughput halves with two workers
(bench/README.md). Here each worker gets a socket of its own, all bound to the same
address with SO_REUSEPORT, and the kernel spreads new connections over them by their
addresses and ports.

The supervisor keeps no copy of a worker's socket once the worker has it: the socket
lives as long as its worker. A worker that stops closes it, so the kernel sends new
connections to the others at once (none wait in the backlog of a socket nobody serves);
one that dies is replaced with a new socket.
"""

from __future__ import annotations

import logging
import socket

from uvicorn import Config
from uvicorn.supervisors import Multiprocess

logger = logging.getLogger("antechamber.serve")


class PortInUse(Exception):
    """The address is taken: another server listens there."""


class Listener:
    """Binds the workers' sockets, all on one address (port 0: one port chosen at once)."""

    def __init__(self, host: str, port: int, backlog: int) -> None:
        self.family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.host = host
        self.backlog = backlog
        self.port = self._probe(port)

    def _probe(self, port: int) -> int:
        """A bind without SO_REUSEPORT fails if anything listens on the address, even a
        group sharing it: a second server started on a taken port fails as it always did,
        instead of quietly taking a share of the first one's connections. (Our sockets
        listen from the moment they are bound, so a second server can't slip in while
        our workers start.)"""
        with socket.socket(self.family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self.host, port))
            except OSError as exc:
                raise PortInUse(f"cannot listen on {self.host}:{port}: {exc}") from exc
            bound: int = probe.getsockname()[1]
            return bound

    def bind(self) -> socket.socket:
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((self.host, self.port))
            # Listening at once: connections made before the worker's loop runs wait in
            # its backlog (the worker listens again on it, which keeps the queue).
            sock.listen(self.backlog)
        except OSError:
            sock.close()
            raise
        sock.set_inheritable(True)
        return sock


class Supervisor(Multiprocess):
    def __init__(self, config: Config, listener: Listener) -> None:
        self._listener = listener
        self._handed: list[socket.socket] = []
        super().__init__(config, sockets=[])

    # uvicorn reads `self.sockets` exactly where it starts a worker (at start, on a
    # restart, to replace a dead worker, on SIGTTIN), and nowhere else: each read binds
    # the socket of the worker about to start.
    @property
    def sockets(self) -> list[socket.socket]:
        sock = self._listener.bind()
        self._handed.append(sock)
        return [sock]

    @sockets.setter
    def sockets(self, _value: list[socket.socket]) -> None:
        """uvicorn's constructor sets the shared sockets; there are none."""

    def _close_handed(self) -> None:
        # A started worker holds its own copy (passed when it was spawned).
        for sock in self._handed:
            sock.close()
        self._handed.clear()

    def keep_subprocess_alive(self) -> None:
        self._close_handed()
        running = [(process, process.process.is_alive()) for process in self.processes]
        super().keep_subprocess_alive()
        self._close_handed()
        # uvicorn replaces a worker that died, or that did not answer its health check in
        # time (it kills those), with a line at INFO level; a lost worker is worth more.
        for process, alive in running:
            if process not in self.processes:
                why = "did not answer its health check in time and was killed" if alive else "died"
                logger.warning(
                    "worker %s %s (exit code %s); replaced by a new one",
                    process.pid,
                    why,
                    process.exitcode,
                )

    def handle_signals(self) -> None:
        super().handle_signals()
        self._close_handed()

    def terminate_all(self) -> None:
        # Each worker closes its socket as it stops; connections made meanwhile are
        # refused at once and a balancer sends them elsewhere.
        self._close_handed()
        super().terminate_all()
