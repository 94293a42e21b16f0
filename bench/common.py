"""Shared set-up for every benchmark in bench/.

Runs the service as in production: `antechamber migrate`,
then `antechamber serve` on PostgreSQL (database antechamber_bench) and Redis (db 10)
with ANTECHAMBER_ENVIRONMENT=production and freshly generated secrets, on loopback.
Servers are started with `Popen` and stopped by their PID (SIGTERM, then SIGKILL after
30 s); the Redis db is flushed at the end.

The development login is refused in production, so rooms and users are created through
the service layer, and the admin's login session is created with the service's own
`SessionService` on the same Redis the servers use: exactly the record the login route
writes, without an identity provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql://antechamber:antechamber@127.0.0.1:5432/antechamber_bench"
)
REDIS_URL = os.environ.get("BENCH_LOBBY_REDIS_URL", "redis://127.0.0.1:6379/10")
STARTUP_TIMEOUT_S = 120
# `BENCH_SERVER=granian` (with `uv run --with granian`): the server comparison's other side.
SERVER = os.environ.get("BENCH_SERVER", "uvicorn")
if SERVER not in ("uvicorn", "granian"):
    raise SystemExit(f"BENCH_SERVER must be uvicorn or granian, not {SERVER!r}")
API = "/api/v1.0"


def production_env(**lobby: int) -> dict[str, str]:
    """Production settings; `lobby` overrides ANTECHAMBER_LOBBY_<NAME> settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTECHAMBER_", "LIVEKIT_"))}
    env.update(
        {
            "ANTECHAMBER_ENVIRONMENT": "production",
            "ANTECHAMBER_SECRET_KEY": secrets.token_urlsafe(48),
            "ANTECHAMBER_LOG_LEVEL": "warning",
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "LIVEKIT_URL": "ws://127.0.0.1:7880",
            "LIVEKIT_API_KEY": "bench-key",
            "LIVEKIT_API_SECRET": secrets.token_urlsafe(48),
        }
    )
    for name, value in lobby.items():
        env[f"ANTECHAMBER_LOBBY_{name.upper()}"] = str(value)
    return env


def antechamber(*args: str) -> list[str]:
    return [sys.executable, "-m", "antechamber.cli", *args]


def migrate(env: dict[str, str]) -> None:
    subprocess.run(antechamber("migrate"), env=env, check=True, timeout=120)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class BenchRoom:
    slug: str
    id: uuid.UUID  # the lobby store's room key (str(id))
    owner_id: uuid.UUID


async def create_room(env: dict[str, str], access_level: str = "trusted") -> BenchRoom:
    """A room and its owner, through the service layer, as the POST would."""
    os.environ.update(env)
    from antechamber.db.session import create_engine, create_sessionmaker, transaction
    from antechamber.rooms import service as rooms
    from antechamber.rooms.models import AccessLevel
    from antechamber.rooms.schemas import RoomCreate
    from antechamber.settings import load_settings
    from antechamber.users import service as users

    settings = load_settings()
    engine = create_engine(settings.database)
    try:
        async with transaction(create_sessionmaker(engine)) as db:
            owner = await users.upsert_from_claims(
                db, "bench|lobby-owner", "lobby-owner@bench.test", "Lobby Owner"
            )
            name = f"lobby bench {secrets.token_hex(4)}"
            body = RoomCreate(name=name, access_level=AccessLevel(access_level))
            room = await rooms.create(db, settings, owner, body)
            return BenchRoom(slug=room.slug, id=room.id, owner_id=owner.id)
    finally:
        await engine.dispose()


async def create_session(user_id: uuid.UUID, ttl_s: int = 3600) -> str:
    """A login session for `user_id` in the servers' Redis, as the login route makes it."""
    from redis.asyncio import Redis

    from antechamber.auth.sessions import RedisKeyValueStore, SessionService

    redis = Redis.from_url(REDIS_URL)
    try:
        return await SessionService(RedisKeyValueStore(redis), ttl_s).create(user_id)
    finally:
        await redis.aclose()


def admin_cookie_headers(session_id: str) -> dict[str, str]:
    csrf = secrets.token_urlsafe(32)
    return {"Cookie": f"sessionid={session_id}; csrftoken={csrf}", "X-CSRFToken": csrf}


@dataclass(frozen=True)
class WaitingPlace:
    cookie: str  # the lobbyParticipantId cookie's value
    username: str
    id: str  # the public participant id


def _create_place(url: str, n: int) -> WaitingPlace:
    username = f"guest-{n:05d}"
    request = urllib.request.Request(  # noqa: S310
        url,
        data=json.dumps({"username": username}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        body = json.loads(response.read())
        jar: SimpleCookie = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar.load(header)
    if body["status"] != "waiting" or "lobbyParticipantId" not in jar:
        raise SystemExit(f"unexpected set-up answer: {body}")
    return WaitingPlace(jar["lobbyParticipantId"].value, username, body["id"])


def create_places(url: str, count: int, concurrency: int = 8, first: int = 0) -> list[WaitingPlace]:
    """`count` new waiting participants, each POSTing request-entry without a cookie,
    `concurrency` at a time (threads); in the order of their numbers."""
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return list(pool.map(lambda n: _create_place(url, n), range(first, first + count)))


def flush_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()


def used_memory() -> int:
    """INFO memory used_memory of the whole Redis server (every db, every client)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.info("memory")["used_memory"])
    finally:
        client.close()


def room_memory(room_id: str) -> dict[str, tuple[int, str]]:
    """MEMORY USAGE (SAMPLES 0: every element) and encoding of each key of the bench
    Redis db whose name holds `room_id` (the lobby's keys of that room, whatever their
    layout)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        usage = {}
        for key in sorted(client.scan_iter(match=f"*{room_id}*", count=1000)):
            size = client.memory_usage(key, samples=0) or 0
            usage[key] = (int(size), str(client.object("encoding", key)))
        return usage
    finally:
        client.close()


def dbsize() -> int:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.dbsize())
    finally:
        client.close()


def raise_fd_limit(wanted: int = 20_000) -> int:
    """Raises this process's open-files limit (inherited by the servers it starts)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode} (see its output)")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become ready")


@dataclass(frozen=True)
class Server:
    base: str
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.contextmanager
def serve(env: dict[str, str], workers: int, log: Path | None = None) -> Iterator[Server]:
    """`antechamber serve --workers N` on a free loopback port; stopped by its PID.
    With `log`, the server's output (warnings, e.g. the failed LiveKit notifications when
    no LiveKit server runs) goes to that file instead of this terminal."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with contextlib.ExitStack() as files:
        output = files.enter_context(log.open("ab")) if log is not None else None
        command = antechamber(
            "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)
        )
        if SERVER == "granian":
            command = [sys.executable, str(Path(__file__).with_name("granian_serve.py"))]
            command += [str(port), str(workers)]
        process = subprocess.Popen(
            command,
            env=env,
            stdout=output,
            stderr=output,
        )
        try:
            _wait_ready(base, process)
            yield Server(base, process)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The fields after the command name (which may hold spaces) in parentheses.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def rss_mib(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def worker_rss(server: Server) -> dict[int, float]:
    """RSS of the uvicorn worker processes (children of the serve process), or of the
    serve process itself when it runs a single worker in-process."""
    pids = [pid for pid in children_of(server.pid) if not _is_helper(pid)] or [server.pid]
    return {pid: rss_mib(pid) for pid in pids}


def _is_helper(pid: int) -> bool:
    """multiprocessing's resource tracker, a child of the serve process but no worker."""
    try:
        return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


WRK_MISSING = (
    "wrk is not installed (the HTTP load generator these benchmarks drive): install it with "
    "`apt-get install -y wrk` (Debian package `wrk`), then run again."
)


def require_wrk() -> str:
    """wrk's path, or exits with a clear message when it is missing."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(WRK_MISSING)
    return path


def progress(tool: str, text: str) -> None:
    """A progress line on stderr, apart from the numbers on stdout."""
    print(f"[{tool}] {text}", file=sys.stderr, flush=True)


def fresh_log(tool: str, name: str) -> Path:
    """Where one scenario's server output goes (overwritten by the next run)."""
    path = Path(tempfile.gettempdir(), f"antechamber-{tool}-{name}.log")
    path.write_bytes(b"")
    return path


def wrk_poll(script: Path, url: str, threads: int, connections: int, duration: str) -> str:
    """wrk's output for a poll run driven by a `poll_script`."""
    return run_wrk(
        [f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency", "-s", str(script), url]
    )


def run_wrk(args: list[str], timeout_s: float = 300) -> str:
    wrk = subprocess.run(
        [require_wrk(), *args], capture_output=True, text=True, check=True, timeout=timeout_s
    )
    return wrk.stdout


def parse_wrk(output: str) -> dict[str, str]:
    result = {}
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    result["requests_per_s"] = rps.group(1) if rps else "?"
    for percentile in ("50", "99"):
        match = re.search(rf"^\s+{percentile}%\s+(\S+)", output, re.MULTILINE)
        result[f"p{percentile}"] = match.group(1) if match else "?"
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    result["non_2xx"] = non_2xx.group(1) if non_2xx else "0"
    errors = re.search(r"Socket errors:.*", output)
    result["socket_errors"] = errors.group(0) if errors else "none"
    total = re.search(r"(\d+) requests in", output)
    result["requests"] = total.group(1) if total else "?"
    return result


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def wrk_ms(value: str) -> float:
    """A wrk latency ("812.00us", "4.53ms", "1.20s") in milliseconds; NaN if unknown."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value)
    if match is None:
        return float("nan")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


@dataclass(frozen=True)
class Load:
    """How wrk drives a scenario: `wrk -tT -cC -dD --latency`, after a warm-up run of
    `warmup` (same threads and connections, not counted; "0s" for none)."""

    duration: str = "20s"
    threads: int = 2
    connections: int = 10
    warmup: str = "2s"
    timeout: str = "10s"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(
    url: str, load: Load, extra: list[str] | None = None, cpu_of: Iterable[int] = ()
) -> dict[str, str]:
    """Runs wrk against `url` (loopback only) with `extra` options (-s script, -H header)
    and returns parse_wrk's numbers plus the raw output under "output". With `cpu_of`
    (the workers' PIDs), also "cpu_ms_per_request": the CPU those processes used during
    the measured run per request answered, which a shared machine's load barely moves
    (req/s and p99 it moves a lot)."""
    if not url.startswith("http://127.0.0.1:"):
        raise SystemExit(f"refusing to load a non-loopback URL: {url}")
    common = [f"-t{load.threads}", f"-c{load.connections}", "--timeout", load.timeout]
    common += extra or []
    if wrk_seconds(load.warmup) > 0:
        run_wrk([*common, f"-d{load.warmup}", url], wrk_seconds(load.warmup) + 60)
    pids = list(cpu_of)
    cpu_before = sum(cpu_seconds(pid) for pid in pids)
    output = run_wrk(
        [*common, f"-d{load.duration}", "--latency", url], wrk_seconds(load.duration) + 60
    )
    cpu_used = sum(cpu_seconds(pid) for pid in pids) - cpu_before
    numbers = parse_wrk(output)
    numbers["output"] = output
    answered = numbers.get("requests", "")
    requests = int(answered) if answered.isdigit() else 0
    if pids and requests:
        numbers["cpu_ms_per_request"] = f"{cpu_used * 1000 / requests:.3f}"
    return numbers


def wrk_seconds(duration: str) -> float:
    match = re.fullmatch(r"([\d.]+)([smh]?)", duration)
    if match is None:
        raise SystemExit(f"not a duration: {duration!r} (e.g. 20s, 500ms is not accepted)")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def fill_lobby(room: str, count: int, first: int = 0, chunk: int = 100) -> None:
    """`count` waiting places in `room`, straight through RedisLobbyStore.request (the
    Lua script request-entry runs), `chunk` calls in flight at a time; rate limit off.
    Timeouts and the lobby size come from the settings in os.environ (see create_room)."""
    from redis.asyncio import Redis

    from antechamber.lobby.redis_store import RedisLobbyStore
    from antechamber.lobby.store import RateLimit, RequestOutcome, Timeouts
    from antechamber.settings import load_settings

    lobby = load_settings().lobby
    timeouts = Timeouts(
        waiting_ms=lobby.waiting_timeout_s * 1000,
        accepted_ms=lobby.accepted_timeout_s * 1000,
        denied_ms=lobby.denied_timeout_s * 1000,
    )
    redis = Redis.from_url(REDIS_URL)
    store = RedisLobbyStore(redis, timeouts)
    no_limit = RateLimit(0)

    async def one(n: int) -> None:
        pid = str(uuid.uuid4())
        result = await store.request(
            room, pid, pid, f"guest-{n:05d}", "127.0.0.1", lobby.max_waiting_per_room, no_limit
        )
        if result.outcome is not RequestOutcome.CREATED:
            raise SystemExit(f"could not create place {n}: {result.outcome}")

    try:
        for start in range(first, first + count, chunk):
            stop = min(start + chunk, first + count)
            await asyncio.gather(*(one(n) for n in range(start, stop)))
    finally:
        await redis.aclose()


@dataclass
class LiveKitProcess:
    process: subprocess.Popen[bytes]
    port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def livekit_binary() -> str:
    """The pinned livekit-server, built by scripts/livekit-server.sh when missing."""
    script = Path(__file__).resolve().parent.parent / "scripts" / "livekit-server.sh"
    built = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, check=True, timeout=900
    )
    return built.stdout.strip().splitlines()[-1]


@contextlib.contextmanager
def livekit_server(
    folder: Path, port: int, api_key: str, api_secret: str, webhook_url: str | None
) -> Iterator[LiveKitProcess]:
    """livekit-server in development mode on loopback, signalling on `port`, media on
    free ports (webhooks to `webhook_url`, or none); stopped by its PID."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        udp_port = int(probe.getsockname()[1])
    config: dict[str, object] = {
        "port": port,
        "bind_addresses": ["127.0.0.1"],
        "rtc": {
            "tcp_port": free_port(),
            "udp_port": udp_port,
            "use_external_ip": False,
            "node_ip": "127.0.0.1",
            "enable_loopback_candidate": True,
        },
        "keys": {api_key: api_secret},
        "room": {"departure_timeout": 1, "empty_timeout": 10},
        "logging": {"level": "warn"},
    }
    if webhook_url:
        config["webhook"] = {"api_key": api_key, "urls": [webhook_url]}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "livekit.yaml").write_text(json.dumps(config))
    with (folder / "livekit.log").open("wb") as log:
        process = subprocess.Popen(
            [livekit_binary(), "--dev", "--config", str(folder / "livekit.yaml")],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("livekit-server did not start")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        yield LiveKitProcess(process, port, folder)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def percentiles(values_ms: list[float]) -> str:
    ordered = sorted(values_ms)

    def rank(p: int) -> float:
        # Nearest rank: with 20 samples, p99 is the largest.
        index = -(-len(ordered) * p // 100) - 1
        return ordered[max(0, min(len(ordered) - 1, index))]

    return (
        f"n={len(ordered)} p50 {rank(50):.0f} ms, p99 {rank(99):.0f} ms, "
        f"min {ordered[0]:.0f} ms, max {ordered[-1]:.0f} ms"
    )


POLL_LUA = """
local i = 0
init = function(args)
  i = math.random(#cookies)
end
request = function()
  i = i % #cookies + 1
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["Cookie"] = "lobbyParticipantId=" .. cookies[i],
  }, '{"username":"' .. names[i] .. '"}')
end
"""


def poll_script(places: list[WaitingPlace], path: Path) -> Path:
    """A wrk Lua script cycling through the places' cookies, each POSTing its own
    username to request-entry (a steady poll: it refreshes the place, creates nothing)."""
    cookies = ", ".join(lua_string(place.cookie) for place in places)
    names = ", ".join(lua_string(place.username) for place in places)
    path.write_text(f"cookies = {{{cookies}}}\nnames = {{{names}}}\n{POLL_LUA}")
    return path


def fill_other_keys(count: int, first: int = 0) -> None:
    """`count` unrelated string keys in the bench Redis db, through a pipeline."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        pipe = client.pipeline(transaction=False)
        for n in range(first, first + count):
            pipe.set(f"bench:unrelated:{n}", f"value-{n:07d}-{'x' * 32}")
            if n % 5000 == 4999:
                pipe.execute()
        pipe.execute()
    finally:
        client.close()


async def fill_other_rooms(rooms: int, places: int) -> None:
    """`rooms` other rooms' lobbies (random room keys) of `places` places each."""
    for _ in range(rooms):
        await fill_lobby(str(uuid.uuid4()), places)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def http_scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """The ASGI scope of a plain HTTP/1.1 request from 127.0.0.1, for in-process calls."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


class App:
    """The ASGI app called in-process; keeps each answer's status and Set-Cookie."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.statuses: dict[int, int] = defaultdict(int)
        self.cookies: list[str] = []

    async def call(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        scope = http_scope(
            method,
            path,
            [(b"host", b"127.0.0.1")]
            + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        )

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.statuses[message["status"]] += 1
                for name, value in message.get("headers", []):
                    if name.lower() == b"set-cookie":
                        self.cookies.append(value.decode("latin-1"))

        await self.app(scope, receive, send)
