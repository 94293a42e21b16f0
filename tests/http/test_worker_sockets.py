"""`serve --workers 2`: each worker listens on a socket of its own (SO_REUSEPORT), the
supervisor holds none, a second server on the same port is refused, and a worker that
dies is replaced with a socket of its own, the dead one's gone with it. Read from the
kernel's tables (/proc), not inferred from timings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Backend, clean_backend
from tests.servers import ServeProcess, serve_env, serving, wait_until


def _listening_inodes(port: int) -> set[str]:
    """Inodes of the TCP sockets listening on `port` (state 0A in /proc/net/tcp{,6})."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "0A":
                inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    found = set()
    folder = Path(f"/proc/{pid}/fd")
    for fd in folder.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            found.add(target[len("socket:[") : -1])
    return found


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def _listeners_by_process(server: ServeProcess) -> dict[int, set[str]]:
    """For the supervisor and each of its children: which listening sockets it holds."""
    assert server.process is not None
    listening = _listening_inodes(server.port)
    pids = [server.process.pid, *_children(server.process.pid)]
    return {pid: _socket_inodes(pid) & listening for pid in pids}


def _workers(server: ServeProcess) -> dict[int, set[str]]:
    """The children holding a listening socket of the port (multiprocessing's resource
    tracker, also a child, holds none)."""
    assert server.process is not None
    held = _listeners_by_process(server)
    return {pid: inodes for pid, inodes in held.items() if pid != server.process.pid and inodes}


@pytest.fixture
def served(
    postgres_backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    clean_backend(postgres_backend)
    env = serve_env(postgres_backend.database_url, postgres_backend.redis_url)
    with serving(env, tmp_path_factory.mktemp("sockets"), workers=2) as (server,):
        # Ready once one worker answers; both must have started for this test.
        wait_until(lambda: len(_workers(server)) == 2, "two workers listening", server.log)
        yield server


def test_each_worker_listens_on_a_socket_of_its_own(served: ServeProcess) -> None:
    assert served.process is not None
    held = _listeners_by_process(served)
    workers = _workers(served)

    assert held[served.process.pid] == set(), "the supervisor keeps no listening socket"
    first, second = workers.values()
    assert len(first) == len(second) == 1
    assert first != second
    assert first | second == _listening_inodes(served.port)


def test_a_second_server_on_the_same_port_is_refused(served: ServeProcess) -> None:
    command = [sys.executable, "-m", "antechamber.cli", "serve", "--port", str(served.port)]
    second = subprocess.run(
        [*command, "--workers", "2"], env=served.env, capture_output=True, text=True, timeout=120
    )

    assert second.returncode == 1
    assert f"cannot listen on 127.0.0.1:{served.port}" in second.stderr
    assert len(_workers(served)) == 2, "the first server still listens alone"


def test_a_dead_worker_is_replaced_with_a_socket_of_its_own(served: ServeProcess) -> None:
    before = _workers(served)
    victim, survivor = list(before)
    os.kill(victim, signal.SIGKILL)

    def replaced() -> bool:
        now = _workers(served)
        return victim not in now and len(now) == 2

    wait_until(replaced, "a replacement worker listening", served.log)
    # The supervisor writes its line around the replacement's start, not always before
    # the replacement listens: waited for too.
    said = f"worker {victim} died (exit code -9); replaced"
    wait_until(lambda: said in served.output(), "the supervisor's line", served.log)
    after = _workers(served)
    assert after[survivor] == before[survivor]
    (replacement,) = set(after) - {survivor}
    assert after[replacement] != before[victim], "the dead worker's socket went with it"
    assert _listening_inodes(served.port) == after[survivor] | after[replacement]
    # And the server answers through both sockets' workers still.
    for _ in range(20):
        assert httpx.get(f"{served.url}/readyz", timeout=10).status_code == 200


def test_a_worker_that_stops_answering_is_killed_replaced_and_said(served: ServeProcess) -> None:
    """uvicorn kills a worker whose health check goes unanswered for 5 s (a stopped or
    starved process): every request in flight on it is lost, so the log says so."""
    victim, survivor = list(_workers(served))
    os.kill(victim, signal.SIGSTOP)

    def replaced() -> bool:
        now = _workers(served)
        return victim not in now and len(now) == 2

    wait_until(replaced, "the stopped worker replaced", served.log)
    assert survivor in _workers(served)
    said = (
        f"worker {victim} did not answer its health check in time and was killed "
        "(exit code -9); replaced"
    )
    wait_until(lambda: said in served.output(), "the supervisor's line", served.log)
