"""Benchmark: how long a banned participant stays in the room after reconnecting with the
token it already held, against a real livekit-server and RTC SDK participants.

One `antechamber serve --workers 2` in production mode (PostgreSQL, Redis) and one
livekit-server on loopback whose webhooks go to it. For each try: a new anonymous visitor
GETs a public room (a token, its identity), connects with the RTC SDK, the room's owner
removes it with `ban_seconds`, and once it is out it connects again with the same token.
Measured: from the moment `connect()` returns (LiveKit let it in) to the moment the
client is told it was disconnected. Then the same with livekit-server's webhooks turned
off (a second server without a webhook URL), so only the reconciliation removes it.
Prints p50/p99 over the tries of each. Loopback only; stops what it starts by PID;
flushes the Redis db at the end.

    BENCH_DATABASE_URL=... BENCH_LOBBY_REDIS_URL=... uv run python bench/kick.py [--tries 20]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from pathlib import Path

import httpx
from common import (
    API,
    admin_cookie_headers,
    create_room,
    create_session,
    flush_redis,
    free_port,
    livekit_server,
    migrate,
    percentiles,
    production_env,
    serve,
)

from livekit import rtc

TIMEOUT_S = 30.0


async def one_try(base: str, url: str, slug: str, admin: dict[str, str]) -> tuple[float, float]:
    """(time in the room after reconnecting, time from the reconnect's start), in ms."""
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT_S) as visitor:
        answer = await visitor.get(f"{API}/rooms/{slug}/")
        answer.raise_for_status()
        token = answer.json()["livekit"]["token"]
    first = rtc.Room()
    await asyncio.wait_for(first.connect(url, token), TIMEOUT_S)
    identity = first.local_participant.identity
    gone = asyncio.Event()
    first.on("disconnected", lambda *_: gone.set())
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT_S) as owner:
        removed = await owner.post(
            f"{API}/rooms/{slug}/remove-participant/",
            json={"participant_identity": identity, "ban_seconds": 600},
            headers=admin,
        )
        removed.raise_for_status()
    await asyncio.wait_for(gone.wait(), TIMEOUT_S)
    await first.disconnect()

    again = rtc.Room()
    out = asyncio.Event()
    out_at = 0.0

    def disconnected(*_: object) -> None:
        nonlocal out_at
        out_at = out_at or time.perf_counter()
        out.set()

    again.on("disconnected", disconnected)
    started = time.perf_counter()
    await asyncio.wait_for(again.connect(url, token), TIMEOUT_S)
    joined = time.perf_counter()
    try:
        await asyncio.wait_for(out.wait(), TIMEOUT_S)
    finally:
        await again.disconnect()
    return (out_at - joined) * 1000, (out_at - started) * 1000


async def measure(
    base: str, url: str, slug: str, admin: dict[str, str], tries: int
) -> tuple[list[float], list[float]]:
    in_room, total = [], []
    for _ in range(tries):
        stayed, whole = await one_try(base, url, slug, admin)
        in_room.append(stayed)
        total.append(whole)
    return in_room, total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    key, secret = "bench-key", secrets.token_urlsafe(48)
    folder = Path(tempfile.mkdtemp(prefix="kick-bench-"))
    try:
        for webhooks in (True, False):
            port = free_port()
            env = production_env()
            env.update(
                {
                    "LIVEKIT_URL": f"ws://127.0.0.1:{port}",
                    "LIVEKIT_API_KEY": key,
                    "LIVEKIT_API_SECRET": secret,
                }
            )
            migrate(env)
            room = asyncio.run(create_room(env, access_level="public"))
            admin = admin_cookie_headers(asyncio.run(create_session(room.owner_id)))
            with serve(env, args.workers) as server:
                hook = f"{server.base}{API}/rooms/webhooks-livekit/" if webhooks else None
                with livekit_server(folder / f"webhooks-{webhooks}", port, key, secret, hook):
                    in_room, total = asyncio.run(
                        measure(server.base, env["LIVEKIT_URL"], room.slug, admin, args.tries)
                    )
            what = "webhooks on " if webhooks else "webhooks off"
            print(f"{what}: time in the room after reconnecting: {percentiles(in_room)}")
            print(f"{what}: from the start of the reconnection:   {percentiles(total)}")
    finally:
        flush_redis()


if __name__ == "__main__":
    main()
