"""Servers the tests own: throwaway PostgreSQL and Redis instances started from the
installed binaries (free loopback ports, a temporary folder removed at the end), and
`antechamber serve` processes.

Nothing is shared with anything else on the machine: no role, database or Redis db of
a developer's own servers is touched, and two test runs at once don't collide. A test
may stop and restart an instance it started itself (outage tests).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

# Generous: a loaded 2-core machine (load average 15 was seen with two CI runs beside
# other jobs) starts servers slowly, and a slow start is not a bug.
START_TIMEOUT_S = 180.0
# One readiness probe may itself be slow there; a short time-out would never see "ready".
PROBE_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 20.0
PG_USER = "antechamber"
PG_DB = "antechamber_test"


class MissingBinary(Exception):
    """The server can't be started here; the message says what to install."""


class PortTaken(Exception):
    """Another process bound the port between our probe and the server's start."""


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# Sockets bound (never listening) for the whole run: see `closed_port`.
_held_ports: list[socket.socket] = []


def closed_port() -> int:
    """A port where connections are refused for as long as the tests run. `free_port`
    only says a port was free a moment ago: a server a later test starts (the tests' own
    Redis, PostgreSQL, LiveKit) may take it. This one stays bound by this process, not
    listening, so nothing else can listen there."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    _held_ports.append(holder)
    port: int = holder.getsockname()[1]
    return port


def stop_process(process: subprocess.Popen[bytes] | None, how: int = signal.SIGTERM) -> None:
    """Asks a child we started to stop, by its PID; kills it if it doesn't in time."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(how)
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT_S)


def wait_until(check: Callable[[], bool], what: str, log: Path | None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within {START_TIMEOUT_S:.0f} s{_tail(log)}")


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return "; its output:\n" + log.read_text(errors="replace")[-3000:]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 0.5):
            return True
    except OSError:
        return False


def _pg_bin(name: str) -> Path:
    """From ANTECHAMBER_TEST_POSTGRES_BIN (a folder) if set, else the newest Debian
    install, else the PATH."""
    chosen = os.environ.get("ANTECHAMBER_TEST_POSTGRES_BIN")
    if chosen:
        found = [Path(chosen) / name]
    else:
        found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
        on_path = shutil.which(name)
        found += [Path(on_path)] if on_path else []
    for candidate in found:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise MissingBinary(f"no PostgreSQL server binaries ({name}): install `postgresql`")


def _unprivileged_user() -> str | None:
    """PostgreSQL refuses to run as root; as root, run it as `postgres`."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise MissingBinary("running as root without a `postgres` user to run PostgreSQL") from exc
    return "postgres"


@dataclass
class PostgresServer:
    folder: Path
    port: int
    user: str | None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.folder / "postgres.log"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = PG_DB) -> str:
        return f"postgresql+asyncpg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        command = list(args)
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, check=False, timeout=STOP_TIMEOUT_S * 3)

    def init(self) -> None:
        result = self._run(
            str(_pg_bin("initdb")),
            "-D",
            str(self.data),
            "-U",
            PG_USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr.decode(errors='replace')}")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=300"
        )
        result = self._run(
            str(_pg_bin("pg_ctl")),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "start",
        )
        if result.returncode != 0:
            output = self.log.read_text(errors="replace") if self.log.exists() else ""
            if "already in use" in output:
                raise PortTaken(output)
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr!r}{_tail(self.log)}")
        wait_until(lambda: _answers(self.port), "PostgreSQL", self.log)

    def stop(self, mode: str = "fast") -> None:
        self._run(str(_pg_bin("pg_ctl")), "-D", str(self.data), "-m", mode, "-w", "stop")

    def discard(self) -> None:
        self.stop("immediate")
        remove(self.folder)

    def create_database(self, name: str) -> None:
        result = self._run(
            str(_pg_bin("createdb")), "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, name
        )
        if result.returncode != 0:
            raise RuntimeError(f"createdb failed: {result.stderr.decode(errors='replace')}")


@dataclass
class RedisServer:
    folder: Path
    port: int
    persist: bool
    process: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.folder / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise MissingBinary("no redis-server binary: install `redis-server`")
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else []
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(self.folder),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    *persistence,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(self.port):
            if self.process.poll() is not None:
                output = self.log.read_text(errors="replace")
                if "Address already in use" in output:
                    raise PortTaken(output)
                raise RuntimeError(f"redis-server exited{_tail(self.log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start{_tail(self.log)}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM: Redis writes what it persists, then exits."""
        stop_process(self.process)

    def discard(self) -> None:
        self.stop()
        remove(self.folder)


def _owned_folder(prefix: str, user: str | None) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if user is not None:
        record = pwd.getpwnam(user)
        os.chown(folder, record.pw_uid, record.pw_gid)
    return folder


def start_postgres(databases: tuple[str, ...] = (PG_DB,)) -> PostgresServer:
    """A new cluster on a free port; stop it and remove `server.folder` when done."""
    user = _unprivileged_user()
    _pg_bin("initdb")
    folder = _owned_folder("antechamber-pg-", user)
    server = PostgresServer(folder, free_port(), user)
    server.init()
    for _attempt in range(3):
        try:
            server.start()
            break
        except PortTaken:
            server.port = free_port()
    else:
        raise RuntimeError(f"PostgreSQL found no free port{_tail(server.log)}")
    for name in databases:
        server.create_database(name)
    return server


def start_redis(persist: bool = True) -> RedisServer:
    folder = Path(tempfile.mkdtemp(prefix="antechamber-redis-"))
    for _attempt in range(3):
        server = RedisServer(folder, free_port(), persist)
        try:
            server.start()
            return server
        except PortTaken:
            continue
    raise RuntimeError("redis-server found no free port")


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


Owned = TypeVar("Owned", PostgresServer, RedisServer)


@contextmanager
def owned(server: Owned) -> Iterator[Owned]:
    """The server for the block's length; then stopped and its folder removed."""
    try:
        yield server
    finally:
        server.discard()


@dataclass
class ServeProcess:
    """`antechamber serve` in a child process, its output kept in a file for failures."""

    port: int
    env: dict[str, str]
    folder: Path
    workers: int = 1
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.folder / f"serve-{self.port}.log"

    def start(self) -> None:
        import sys

        command = [sys.executable, "-m", "antechamber.cli", "serve", "--port", str(self.port)]
        command += ["--workers", str(self.workers)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def ready(self) -> bool:
        import httpx

        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"antechamber serve exited{_tail(self.log)}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=PROBE_TIMEOUT_S).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self) -> None:
        wait_until(self.ready, f"antechamber serve on port {self.port}", self.log)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def supervisor_lines(self) -> list[str]:
        """What the supervisor said (a worker lost and replaced: the requests in flight
        on it got no answer)."""
        return [line for line in self.output().splitlines() if "antechamber.serve" in line]

    def stop(self) -> None:
        stop_process(self.process)


@contextmanager
def serving(
    env: dict[str, str], folder: Path, count: int = 1, workers: int = 1
) -> Iterator[list[ServeProcess]]:
    """`count` served processes, ready; stopped at the end whatever happened."""
    processes = [ServeProcess(free_port(), env, folder, workers) for _ in range(count)]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready()
        yield processes
    finally:
        for process in processes:
            process.stop()
            # Shown with a failed test's teardown output.
            for line in process.supervisor_lines():
                print(f"served on port {process.port}: {line}")


def serve_env(database_url: str, redis_url: str | None, **extra: str) -> dict[str, str]:
    """The environment of a served process: the caller's, less any setting of its own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTECHAMBER_", "LIVEKIT_", "DATABASE_", "REDIS_"))
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url or "",
            "ANTECHAMBER_SECRET_KEY": "served-test-secret-0123456789abcdef-0123",
            "ANTECHAMBER_DEV_LOGIN_ENABLED": "true",
            "ANTECHAMBER_LOG_LEVEL": "warning",
        }
    )
    env.update(extra)
    if not env["REDIS_URL"]:
        del env["REDIS_URL"]
    return env
