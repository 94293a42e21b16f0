"""Where the time of GET /api/v1.0/rooms/{slug}/ goes: the ASGI app called in-process
(no sockets, no HTTP parser) under cProfile, on the benchmark's PostgreSQL and Redis with
production settings. Prints the app's own cost per request and the top functions.

    uv run python bench/profile_room_get.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import secrets
import time
from collections.abc import MutableMapping
from typing import Any

from common import create_room, production_env


async def drive(slug: str, count: int, profiler: cProfile.Profile, profile: bool) -> float:
    from antechamber.app import create_app
    from antechamber.settings import load_settings

    app = create_app(load_settings())
    cookie = f"lobbyParticipantId={secrets.token_urlsafe(32)}; csrftoken=x".encode()
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/api/v1.0/rooms/{slug}/",
        "raw_path": f"/api/v1.0/rooms/{slug}/".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"cookie", cookie)],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async with app.router.lifespan_context(app):
        for _ in range(50):  # warm the pools and caches
            await app(dict(scope), receive, send)
        if profile:
            profiler.enable()
        started = time.perf_counter()
        for _ in range(count):
            await app(dict(scope), receive, send)
        elapsed = time.perf_counter() - started
        profiler.disable()
    assert set(statuses) == {200}, set(statuses)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--no-profile", action="store_true", help="only time the requests")
    args = parser.parse_args()
    env = production_env()
    slug = asyncio.run(create_room(env, access_level="public")).slug
    os.environ.update(env)
    profiler = cProfile.Profile()
    elapsed = asyncio.run(drive(slug, args.requests, profiler, not args.no_profile))
    how = "" if args.no_profile else " under cProfile"
    print(
        f"{args.requests} requests in {elapsed:.2f} s{how}: "
        f"{elapsed / args.requests * 1000:.2f} ms each (one process, sequential)"
    )
    if args.no_profile:
        return 0
    stats = pstats.Stats(profiler).strip_dirs().sort_stats(os.environ.get("SORT", "cumulative"))
    stats.print_stats(45)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
