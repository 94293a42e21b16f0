"""Benchmark: GET waiting-participants with many people waiting and a busy Redis.

Redis db 10 first gets 100,000 unrelated keys (SET through a pipeline) and 50 other
rooms' lobbies of 100 places each. Places in the measured (trusted) room are created
straight through RedisLobbyStore.request (the script request-entry runs), not HTTP;
ANTECHAMBER_LOBBY_MAX_WAITING_PER_ROOM=20000 and WAITING_TIMEOUT_S=900 so nobody expires
during the run. Two phases, one wrk run each (`wrk -t2 -c4 -d10s --latency`, the owner's
session cookie and csrftoken): 1,000 waiting (the design target's size), then 10,000.
Prints requests/s, p50, p99, response size and worker RSS for each. Production mode on
PostgreSQL + Redis db 10, loopback; stops the server by PID; flushes Redis db 10.

    uv run python bench/lobby_waiting_list.py [--sizes 1000,10000] [--duration 10s]
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
    fill_other_keys,
    fill_other_rooms,
    flush_redis,
    migrate,
    parse_wrk,
    production_env,
    run_wrk,
    serve,
    worker_rss,
)

OTHER_KEYS = 100_000
OTHER_ROOMS = 50
OTHER_ROOM_PLACES = 100


async def fill_background() -> None:
    await fill_other_rooms(OTHER_ROOMS, OTHER_ROOM_PLACES)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--duration", default="10s")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    env = production_env(max_waiting_per_room=20_000, waiting_timeout_s=900)
    migrate(env)
    room = asyncio.run(create_room(env, "trusted"))
    results = []
    try:
        fill_other_keys(OTHER_KEYS)
        asyncio.run(fill_background())
        session = asyncio.run(create_session(room.owner_id))
        headers = admin_cookie_headers(session)
        with serve(env, args.workers) as server:
            url = f"{server.base}{API}/rooms/{room.slug}/waiting-participants/"
            waiting = 0
            for size in sizes:
                asyncio.run(fill_lobby(str(room.id), size - waiting, first=waiting))
                waiting = size
                request = urllib.request.Request(url, headers=headers)  # noqa: S310
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    body = response.read()
                listed = len(json.loads(body)["participants"])
                if listed != size:
                    raise SystemExit(f"expected {size} waiting, the list has {listed}")
                client = redis.Redis.from_url(REDIS_URL)
                try:
                    keys = int(client.dbsize())
                finally:
                    client.close()
                wrk_args = [f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}"]
                wrk_args += ["--latency", "--timeout", "10s"]
                for name, value in headers.items():
                    wrk_args += ["-H", f"{name}: {value}"]
                output = run_wrk([*wrk_args, url])
                print(output)
                results.append((size, keys, len(body), parse_wrk(output), worker_rss(server)))
    finally:
        flush_redis()

    print("mode: ANTECHAMBER_ENVIRONMENT=production on PostgreSQL + Redis db 10")
    print("admin session: created with SessionService in the servers' Redis (no dev login)")
    for size, keys, body_size, numbers, rss in results:
        print(
            f"GET waiting-participants, {size} waiting ({keys} keys in the Redis db): "
            f"{numbers['requests_per_s']} req/s, p50 {numbers['p50']}, p99 {numbers['p99']}, "
            f"response {body_size} bytes ({body_size / 1024:.0f} KiB), "
            f"wrk -t{args.threads} -c{args.connections} -d{args.duration}, "
            f"{args.workers} workers, non-2xx {numbers['non_2xx']} of {numbers['requests']}, "
            f"socket errors: {numbers['socket_errors']}; worker RSS "
            + ", ".join(f"{mib:.1f} MiB" for mib in rss.values())
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
