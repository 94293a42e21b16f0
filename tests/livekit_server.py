"""A real livekit-server for tests: started on loopback ports in development mode with
the test's key pair and its webhooks pointed at the Antechamber under test, and stopped
by its PID.

The binary comes from `scripts/livekit-server.sh` (`ANTECHAMBER_TEST_LIVEKIT_SERVER`).
Without it the tests that need it are skipped, or fail when services are required.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_SERVICES
from tests.servers import PROBE_TIMEOUT_S, free_port, stop_process

# Generous: a loaded 2-core machine (CI running beside other jobs) starts it slowly.
START_TIMEOUT_S = 180.0
# Free ports are found by binding and releasing them, so another process can take one
# before the server binds it: then the start is tried again on new ports.
START_TRIES = 3
STOP_TIMEOUT_S = 10.0


def livekit_binary() -> Path:
    configured = os.environ.get("ANTECHAMBER_TEST_LIVEKIT_SERVER", "")
    if configured:
        # Named explicitly (as `.ci/run` does): that binary, and no other version.
        candidates = [Path(configured)]
    else:
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "antechamber"
        candidates = sorted(cache.glob("livekit-server-v*[0-9]"), reverse=True)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    message = "no livekit-server binary: run scripts/livekit-server.sh"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class LiveKitServer:
    process: subprocess.Popen[bytes]
    port: int
    api_key: str
    api_secret: str
    log: Path

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def log_size(self) -> int:
        return self.log.stat().st_size

    def _lines_since(self, since: int) -> list[str]:
        with self.log.open("rb") as log:
            log.seek(since)
            return log.read().decode(errors="replace").splitlines()

    def removed_by_request(self, identity: str, since: int) -> bool:
        """Whether the server's log shows, after byte `since`, a session of this identity
        closed because the server API removed it (RemoveParticipant)."""
        who = f'"participant": {json.dumps(identity)}'
        return any(
            "participant closing" in line
            and who in line
            and '"reason": "SERVICE_REQUEST_REMOVE_PARTICIPANT"' in line
            for line in self._lines_since(since)
        )

    def became_active(self, identity: str, since: int) -> bool:
        """Whether a session of this identity became active after byte `since` (LiveKit
        sends `participant_joined` then, and only then)."""
        who = f'"participant": {json.dumps(identity)}'
        lines = self._lines_since(since)
        return any("participant active" in line and who in line for line in lines)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_process(self.process)


class PortTaken(RuntimeError):
    pass


def start_livekit_for_app(folder: Path, api_key: str, api_secret: str) -> tuple[LiveKitServer, int]:
    """A LiveKit server whose webhooks go to the Antechamber the caller is about to serve
    on the port returned with it."""
    app_port = free_port()
    webhook_url = f"http://127.0.0.1:{app_port}/api/v1.0/rooms/webhooks-livekit/"
    return start_livekit(livekit_binary(), folder, api_key, api_secret, webhook_url), app_port


def start_livekit(
    binary: Path, folder: Path, api_key: str, api_secret: str, webhook_url: str
) -> LiveKitServer:
    for attempt in range(1, START_TRIES + 1):
        try:
            return _start_once(binary, folder, api_key, api_secret, webhook_url)
        except PortTaken:
            if attempt == START_TRIES:
                raise
    raise AssertionError("unreachable")


def _start_once(
    binary: Path, folder: Path, api_key: str, api_secret: str, webhook_url: str
) -> LiveKitServer:
    port = free_port()
    config = {
        "port": port,
        "bind_addresses": ["127.0.0.1"],
        "rtc": {
            "tcp_port": free_port(),
            # One UDP port for all media (muxed): easy to find free, enough for tests.
            "udp_port": free_port(socket.SOCK_DGRAM),
            "use_external_ip": False,
            "node_ip": "127.0.0.1",
            "enable_loopback_candidate": True,
        },
        "keys": {api_key: api_secret},
        # Rooms close a second after the last participant leaves, so `room_finished`
        # comes quickly; rooms nobody joined close soon too.
        "room": {"departure_timeout": 1, "empty_timeout": 10},
        "webhook": {"api_key": api_key, "urls": [webhook_url]},
        "logging": {"level": "info"},
    }
    config_file = folder / "livekit.yaml"
    config_file.write_text(json.dumps(config))  # JSON is YAML
    log = folder / "livekit.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(binary), "--dev", "--config", str(config_file)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = LiveKitServer(process, port, api_key, api_secret, log)
    _wait_until_up(server)
    return server


def _wait_until_up(server: LiveKitServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            output = server.log.read_text()[-2000:]
            if "address already in use" in output:
                raise PortTaken(output)
            raise RuntimeError(f"livekit-server exited: {output}")
        try:
            with urllib.request.urlopen(server.http_url, timeout=PROBE_TIMEOUT_S) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(
        f"livekit-server did not start within {START_TIMEOUT_S:.0f} s; its output:\n"
        f"{server.log.read_text()[-2000:]}"
    )
