"""SIGTERM on `antechamber serve` with open event streams and requests in flight: the
process stops being ready, ends every stream itself with a `reconnect` event, answers
what it had accepted, and exits within its bound."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Backend, clean_backend
from tests.helpers import ROOMS
from tests.servers import ServeProcess, serve_env, serving
from tests.visitors import Visitor

STREAMS = 100
IN_FLIGHT = 10
SHUTDOWN_TIMEOUT_S = 6
SHUTDOWN_DELAY_S = 2
LIVEKIT_TIMEOUT_S = 2


@pytest.fixture
def silent_livekit() -> Iterator[int]:
    """A port that accepts connections and never answers: calls to it are in flight
    until LiveKit's time-out."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


@pytest.fixture
def served(
    postgres_backend: Backend, silent_livekit: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    clean_backend(postgres_backend)
    env = serve_env(
        postgres_backend.database_url,
        postgres_backend.redis_url,
        ANTECHAMBER_LOBBY_RATE_LIMIT_PER_MINUTE="0",
        ANTECHAMBER_SHUTDOWN_TIMEOUT_S=str(SHUTDOWN_TIMEOUT_S),
        ANTECHAMBER_SHUTDOWN_DELAY_S=str(SHUTDOWN_DELAY_S),
        LIVEKIT_URL=f"ws://127.0.0.1:{silent_livekit}",
        LIVEKIT_TIMEOUT_S=str(LIVEKIT_TIMEOUT_S),
    )
    with serving(env, tmp_path_factory.mktemp("stop"), workers=2) as (server,):
        yield server


async def _follow(visitor: Visitor, path: str, opened: asyncio.Event) -> list[str]:
    """Every line of the stream until the server ends it."""
    lines: list[str] = []
    async with visitor.stream(path) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            lines.append(line)
            if line.startswith("data:") and not opened.is_set():
                opened.set()
    return lines


async def test_sigterm_ends_streams_answers_in_flight_requests_and_exits_in_time(
    served: ServeProcess, http: httpx.AsyncClient
) -> None:
    admin = Visitor(http, served.url)
    await admin.login("admin@example.com")
    created = await admin.request("POST", ROOMS, {"name": "Stop", "access_level": "restricted"})
    room = created.json()["id"]
    streams = []
    for n in range(STREAMS):
        visitor = Visitor(http, served.url)
        if n == 0:
            visitor = admin
            path = f"{ROOMS}{room}/waiting-participants-events/"
        else:
            entry = await visitor.request("POST", f"{ROOMS}{room}/request-entry/", {})
            assert entry.json()["status"] == "waiting", entry.text
            path = f"{ROOMS}{room}/lobby-events/"
        opened = asyncio.Event()
        streams.append((asyncio.create_task(_follow(visitor, path, opened)), opened))
    for _task, opened in streams:
        await asyncio.wait_for(opened.wait(), 30)

    # Calls that wait on LiveKit (which never answers) are in flight when the signal lands.
    in_flight = [
        asyncio.create_task(
            admin.request(
                "POST",
                f"{ROOMS}{room}/mute-participant/",
                {"participant_identity": f"p{n}", "track_sid": "TR_x"},
            )
        )
        for n in range(IN_FLIGHT)
    ]
    await asyncio.sleep(0.5)
    assert served.process is not None
    signalled = time.monotonic()
    served.process.send_signal(signal.SIGTERM)

    # Not ready any more, while it still accepts connections (the configured delay). The
    # supervisor passes the signal on to its workers at its next tick (every 0.5 s).
    readiness: list[int] = []
    while time.monotonic() < signalled + SHUTDOWN_DELAY_S and 503 not in readiness:
        try:
            readiness.append((await http.get(f"{served.url}/readyz")).status_code)
        except httpx.HTTPError:
            readiness.append(0)  # refused: the listener is closed
        await asyncio.sleep(0.05)
    assert 503 in readiness, readiness

    ended = await asyncio.wait_for(asyncio.gather(*(t for t, _ in streams)), SHUTDOWN_TIMEOUT_S)
    for lines in ended:
        assert "event: reconnect" in lines, lines[-5:]
    answers = await asyncio.gather(*in_flight)
    assert [a.status_code for a in answers] == [503] * IN_FLIGHT  # LiveKit's time-out, answered

    bound = SHUTDOWN_DELAY_S + SHUTDOWN_TIMEOUT_S
    try:
        code = await asyncio.to_thread(served.process.wait, 2 * bound)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {2 * bound} s after SIGTERM:\n{served.output()[-3000:]}")
    print(f"exited {time.monotonic() - signalled:.2f} s after SIGTERM (bound {bound} s)")
    assert code == 0, served.output()[-3000:]
    assert "Traceback" not in served.output()
