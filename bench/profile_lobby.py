"""Where the time of the lobby's hot paths goes: the ASGI app called in-process (no
sockets, no HTTP parser) on the benchmark's PostgreSQL and Redis db 10 with production
settings, under pyinstrument when available (`uv run --with pyinstrument ...`), else
only timed. Two paths:

  poll     POST request-entry by 1,000 distinct waiting participants, cycled
  waiting  GET waiting-participants with 1,000 waiting (the owner's session)

For `waiting` it also times the pieces alone: the store's Lua script (RedisLobbyStore
.waiting), the Python shaping (place_json) and json.dumps. Flushes Redis db 10.

    uv run --with pyinstrument python bench/profile_lobby.py poll|waiting [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import time
from typing import Any

from common import (
    API,
    App,
    admin_cookie_headers,
    create_room,
    create_session,
    fill_lobby,
    flush_redis,
    migrate,
    production_env,
)


def profiler() -> Any:
    try:
        return importlib.import_module("pyinstrument").Profiler(interval=0.0005)
    except ImportError:
        return None


async def drive(path_name: str, count: int) -> None:
    from antechamber.app import create_app
    from antechamber.lobby.service import place_json
    from antechamber.settings import load_settings
    from antechamber.tokens.identity import new_lobby_secret

    room = await create_room(dict(os.environ), "trusted")
    app = App(create_app(load_settings()))
    calls: list[tuple[str, str, dict[str, str], bytes]] = []
    if path_name == "poll":
        path = f"{API}/rooms/{room.slug}/request-entry/"
        for n in range(1000):
            cookie = f"lobbyParticipantId={new_lobby_secret()}"
            headers = {"cookie": cookie, "content-type": "application/json"}
            calls.append(("POST", path, headers, json.dumps({"username": f"g-{n}"}).encode()))
    else:
        await fill_lobby(str(room.id), 1000)
        headers = admin_cookie_headers(await create_session(room.owner_id))
        path = f"{API}/rooms/{room.slug}/waiting-participants/"
        calls.append(("GET", path, headers, b""))

    async with app.app.router.lifespan_context(app.app):
        for call in calls:  # warm the pools and caches (and, for poll, create the places)
            await app.call(*call)
        if path_name == "waiting":
            store = app.app.state.services.lobby.store
            started = time.perf_counter()
            for _ in range(20):
                places = await store.waiting(str(room.id))
            script = (time.perf_counter() - started) / 20
            started = time.perf_counter()
            for _ in range(20):
                shaped = {"participants": [place_json(p) for p in places]}
            shaping = (time.perf_counter() - started) / 20
            started = time.perf_counter()
            for _ in range(20):
                encoded = json.dumps(shaped)
            dumping = (time.perf_counter() - started) / 20
            print(
                f"{len(places)} waiting: store.waiting (Lua script + parse) "
                f"{script * 1000:.2f} ms, place_json x{len(places)} {shaping * 1000:.2f} ms, "
                f"json.dumps {dumping * 1000:.2f} ms ({len(encoded)} bytes)"
            )
        prof = profiler()
        if prof is not None:
            prof.start()
        started = time.perf_counter()
        for n in range(count):
            await app.call(*calls[n % len(calls)])
        elapsed = time.perf_counter() - started
        if prof is not None:
            prof.stop()
    statuses = set(app.statuses)
    how = " under pyinstrument" if prof is not None else ""
    print(
        f"{path_name}: {count} requests in {elapsed:.2f} s{how}: "
        f"{elapsed / count * 1000:.3f} ms each (one process, sequential), statuses {statuses}"
    )
    if prof is not None:
        print(prof.output_text(unicode=False, color=False, show_all=False))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", choices=["poll", "waiting"])
    parser.add_argument("--requests", type=int, default=0)
    args = parser.parse_args()
    env = production_env(
        rate_limit_per_minute=100_000, max_waiting_per_room=20_000, waiting_timeout_s=900
    )
    migrate(env)
    os.environ.update(env)
    count = args.requests or (3000 if args.path == "poll" else 100)
    try:
        asyncio.run(drive(args.path, count))
    finally:
        flush_redis()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
