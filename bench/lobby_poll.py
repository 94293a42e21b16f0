"""Benchmark: request-entry polling by 1,000 distinct waiting participants in one room.

A trusted room (anonymous callers wait). Set-up: 1,000 POSTs to request-entry without a
cookie, each answered `waiting` with a new `lobbyParticipantId` cookie (rate limit and
lobby size raised so set-up isn't limited). Then `wrk -t2 -c10 -d20s --latency` with a
Lua script that cycles through the 1,000 cookies, POSTing each one's own username (a
steady poll: it refreshes the place, writes nothing else). Prints requests/s, p50, p99,
non-2xx and each worker's RSS. Production mode, PostgreSQL + Redis db 10, loopback; it
stops the server it started by PID and flushes Redis db 10.

    uv run python bench/lobby_poll.py [--participants 1000] [--duration 20s]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from common import (
    API,
    create_places,
    create_room,
    flush_redis,
    migrate,
    parse_wrk,
    poll_script,
    production_env,
    serve,
    worker_rss,
    wrk_poll,
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--duration", default="20s")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    env = production_env(rate_limit_per_minute=100_000, max_waiting_per_room=20_000)
    migrate(env)
    room = asyncio.run(create_room(env, "trusted"))
    try:
        with serve(env, args.workers) as server, tempfile.TemporaryDirectory() as tmp:
            url = f"{server.base}{API}/rooms/{room.slug}/request-entry/"
            places = create_places(url, args.participants)
            script = poll_script(places, Path(tmp, "poll.lua"))
            output = wrk_poll(script, url, args.threads, args.connections, args.duration)
            rss = worker_rss(server)
    finally:
        flush_redis()

    numbers = parse_wrk(output)
    print(output)
    print("mode: ANTECHAMBER_ENVIRONMENT=production on PostgreSQL + Redis db 10")
    print(
        f"POST request-entry, {args.participants} distinct waiting participants polling "
        f"(trusted room, anonymous): {numbers['requests_per_s']} req/s, "
        f"p50 {numbers['p50']}, p99 {numbers['p99']}, "
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}, "
        f"{args.workers} workers, non-2xx {numbers['non_2xx']} of {numbers['requests']}, "
        f"socket errors: {numbers['socket_errors']}"
    )
    for pid, mib in rss.items():
        print(f"worker {pid}: RSS {mib:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
