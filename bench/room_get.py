"""Benchmark: GET /api/v1.0/rooms/{slug}/ for a public room (each answer mints a token).

Runs the service as in production: `antechamber migrate`, then `antechamber serve
--workers 2` on PostgreSQL (database antechamber_bench) and Redis (db 12) with
ANTECHAMBER_ENVIRONMENT=production and freshly generated secrets. The development login
is refused in production, so the room (and its owner) are created directly through the
service layer. Then `wrk -t2 -c10 -d20s --latency` drives anonymous visitors (a fixed
lobby cookie, like a front end that fetches the room again) and the script prints
requests/s, p50, p99 and each worker's RSS. Loopback only; it stops the server it
started, by PID.

    uv run python bench/room_get.py [--duration 20s] [--connections 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql://antechamber:antechamber@127.0.0.1:5432/antechamber_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
STARTUP_TIMEOUT_S = 60


def production_env() -> dict[str, str]:
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
    return env


def antechamber(*args: str) -> list[str]:
    return [sys.executable, "-m", "antechamber.cli", *args]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def create_public_room(env: dict[str, str]) -> str:
    """Through the service layer, as the POST would (dev login is off in production)."""
    os.environ.update(env)
    from antechamber.db.session import create_engine, create_sessionmaker, transaction
    from antechamber.rooms import service as rooms
    from antechamber.rooms.schemas import RoomCreate
    from antechamber.settings import load_settings
    from antechamber.users import service as users

    settings = load_settings()
    engine = create_engine(settings.database)
    try:
        async with transaction(create_sessionmaker(engine)) as db:
            owner = await users.upsert_from_claims(
                db, "bench|owner", "owner@bench.test", "Bench Owner"
            )
            body = RoomCreate(name=f"bench {secrets.token_hex(4)}", access_level="public")
            room = await rooms.create(db, settings, owner, body)
            return room.slug
    finally:
        await engine.dispose()


def wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become ready")


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
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            found.append(int(entry.name))
    return sorted(found)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


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
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", default="20s")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    env = production_env()
    subprocess.run(antechamber("migrate"), env=env, check=True, timeout=120)
    slug = asyncio.run(create_public_room(env))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        antechamber(
            "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)
        ),
        env=env,
    )
    try:
        wait_ready(base, server)
        url = f"{base}/api/v1.0/rooms/{slug}/"
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            assert response.status == 200
        # A returning anonymous visitor: its lobby cookie and CSRF cookie already set.
        lobby, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        cookie = f"lobbyParticipantId={lobby}; csrftoken={csrf}"
        wrk = subprocess.run(
            [
                "wrk",
                f"-t{args.threads}",
                f"-c{args.connections}",
                f"-d{args.duration}",
                "--latency",
                "-H",
                f"Cookie: {cookie}",
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        workers = children_of(server.pid)
        rss = {pid: rss_mib(pid) for pid in workers}
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    numbers = parse_wrk(wrk.stdout)
    print(wrk.stdout)
    print("mode: ANTECHAMBER_ENVIRONMENT=production on PostgreSQL + Redis (room via service layer)")
    print(
        f"GET rooms/{{slug}}/ (public, anonymous, token minted): "
        f"{numbers['requests_per_s']} req/s, p50 {numbers['p50']}, p99 {numbers['p99']}, "
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}, "
        f"{args.workers} workers, non-2xx {numbers['non_2xx']}, "
        f"socket errors: {numbers['socket_errors']}"
    )
    for pid, mib in rss.items():
        print(f"worker {pid}: RSS {mib:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
