"""`antechamber serve` as a child process, the way operators run it, for tests that
need real workers, real signals or real addresses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import LIVEKIT_KEY, LIVEKIT_SECRET
from tests.servers import free_port

# Generous: on a loaded machine uvicorn's supervisor may restart a slow-starting worker.
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 15.0


def serve_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a served process: nothing of the developer's own settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTECHAMBER_", "LIVEKIT_", "DATABASE_", "REDIS_", "PROMETHEUS_"))
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "ANTECHAMBER_SECRET_KEY": "served-process-secret-0123456789abcdefghij",
            "ANTECHAMBER_DEV_LOGIN_ENABLED": "true",
            "ANTECHAMBER_LOBBY_RATE_LIMIT_PER_MINUTE": "0",
            # A LiveKit nobody listens on: the lobby must work without it.
            "LIVEKIT_URL": f"ws://127.0.0.1:{free_port()}",
            "LIVEKIT_API_KEY": LIVEKIT_KEY,
            "LIVEKIT_API_SECRET": LIVEKIT_SECRET,
            "LIVEKIT_TIMEOUT_S": "0.5",
        }
    )
    env.update(extra)
    return env


class Served:
    def __init__(
        self,
        env: dict[str, str],
        host: str = "127.0.0.1",
        port: int | None = None,
        workers: int = 1,
        log: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.host = host
        self.port = port or free_port()
        self.env = env
        self.workers = workers
        self.log = log
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, wait: bool = True) -> Served:
        command = [sys.executable, "-m", "antechamber.cli", "serve", "--host", self.host]
        command += ["--port", str(self.port), "--workers", str(self.workers), *self.extra_args]
        output = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        try:
            # Its own process group, so stopping it reaches uvicorn's workers too.
            self.process = subprocess.Popen(
                command, env=self.env, stdout=output, stderr=output, start_new_session=True
            )
        finally:
            if self.log:
                output.close()  # type: ignore[union-attr]
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"serve on {self.url} exited ({self.process.returncode})")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        tail = self.log.read_text(errors="replace")[-3000:] if self.log else ""
        raise RuntimeError(f"serve on {self.url} was not ready in {timeout_s} s\n{tail}")

    def signal(self, signum: int) -> None:
        """To the whole group (the supervisor and its workers), as a host going away."""
        assert self.process is not None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signum)

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            # The supervisor alone: it stops its workers (a group-wide SIGTERM would be
            # caught by each worker at once, which is fine too, but this is what a
            # process manager does).
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait(STOP_TIMEOUT_S)
        return self.process.returncode
