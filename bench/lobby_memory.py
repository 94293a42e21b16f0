"""Benchmark: Redis memory per waiting participant.

With the service running as in production (2 workers, production mode, PostgreSQL +
Redis db 10), INFO memory `used_memory` is read before and after creating 10,000 places
in one trusted room straight through RedisLobbyStore.request (the Lua script
request-entry runs; rate limit off, ANTECHAMBER_LOBBY_MAX_WAITING_PER_ROOM=20000); the
difference is divided by 10,000. MEMORY USAGE (SAMPLES 0: every element) of each of
the room's keys is printed too. used_memory is server-wide, so anything another user of
the same Redis server does meanwhile lands in it: the per-key figure is the exact one.
Target: <= 400 bytes per waiting participant. Stops the server by PID; flushes db 10.

    uv run python bench/lobby_memory.py [--participants 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import urllib.request

import redis
from common import (
    API,
    REDIS_URL,
    admin_cookie_headers,
    create_room,
    create_session,
    fill_lobby,
    flush_redis,
    migrate,
    production_env,
    serve,
    worker_rss,
)


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from antechamber.lobby.redis_store import RedisLobbyStore

    env = production_env(max_waiting_per_room=20_000, waiting_timeout_s=900)
    migrate(env)
    room = asyncio.run(create_room(env, "trusted"))
    client = redis.Redis.from_url(REDIS_URL)
    try:
        session = asyncio.run(create_session(room.owner_id))
        with serve(env, args.workers) as server:
            before = used_memory(client)
            asyncio.run(fill_lobby(str(room.id), args.participants))
            after = used_memory(client)
            usage = {}
            for key in RedisLobbyStore.keys(str(room.id)):
                encoding = client.object("encoding", key)
                usage[key] = (client.memory_usage(key, samples=0) or 0, encoding)
            request = urllib.request.Request(  # noqa: S310
                f"{server.base}{API}/rooms/{room.slug}/waiting-participants/",
                headers=admin_cookie_headers(session),
            )
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                listed = len(json.loads(response.read())["participants"])
            rss = worker_rss(server)
    finally:
        client.close()
        flush_redis()

    count = args.participants
    print("mode: ANTECHAMBER_ENVIRONMENT=production on PostgreSQL + Redis db 10")
    print(f"places created through RedisLobbyStore.request: {count}; the API lists {listed}")
    delta = after - before
    print(
        f"INFO used_memory: before {before} B, after {after} B, delta {delta} B "
        f"= {delta / count:.1f} B per waiting participant (target <= 400)"
    )
    total = 0
    for key, (size, encoding) in usage.items():
        total += size
        print(f"MEMORY USAGE {key}: {size} B ({encoding!r}) = {size / count:.1f} B/participant")
    print(f"MEMORY USAGE of the room's keys: {total} B = {total / count:.1f} B per participant")
    for pid, mib in rss.items():
        print(f"worker {pid}: RSS {mib:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
