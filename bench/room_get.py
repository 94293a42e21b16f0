"""Benchmark: GET /api/v1.0/rooms/{slug}/ for a public room (each answer mints a token).

Runs the service as in production (see common.py): `antechamber migrate`, then
`antechamber serve --workers 2` on PostgreSQL and Redis with
ANTECHAMBER_ENVIRONMENT=production and freshly generated secrets; the room and its owner
are created through the service layer. Then `wrk -t2 -c10 -d20s --latency` drives
anonymous visitors (a fixed lobby cookie, like a front end that fetches the room again)
and the script prints requests/s, p50, p99 and each worker's RSS. Loopback only; it stops
the server it started, by PID.

    uv run python bench/room_get.py [--duration 20s] [--connections 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import urllib.request

from common import (
    create_room,
    flush_redis,
    migrate,
    parse_wrk,
    production_env,
    run_wrk,
    serve,
    worker_rss,
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", default="20s")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    env = production_env()
    migrate(env)
    room = asyncio.run(create_room(env, access_level="public"))
    try:
        with serve(env, args.workers) as server:
            url = f"{server.base}/api/v1.0/rooms/{room.slug}/"
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
                assert response.status == 200
            # A returning anonymous visitor: its lobby cookie and CSRF cookie already set.
            lobby, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            output = run_wrk(
                [
                    f"-t{args.threads}",
                    f"-c{args.connections}",
                    f"-d{args.duration}",
                    "--latency",
                    "-H",
                    f"Cookie: lobbyParticipantId={lobby}; csrftoken={csrf}",
                    url,
                ]
            )
            rss = worker_rss(server)
    finally:
        flush_redis()

    numbers = parse_wrk(output)
    print(output)
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
