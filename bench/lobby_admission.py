"""Benchmark: admission latency, from `enter` on one process to the event on another.

Two separate `antechamber serve --workers 1` processes (A and B, two ports) share
PostgreSQL and Redis db 10, so the stream and the decision surely run in different
processes. N participants (default 200) request entry to a trusted room on A, then each
opens GET lobby-events/ on A with its cookie (all N streams open at once). The room's
owner, logged in (a session made with the service's SessionService in the servers'
Redis: production mode, no dev login), then admits them one at a time by POSTing
enter {"participant_id", "allow_entry": true} to B over a keep-alive connection.
Latency = from just before sending `enter` to the moment the `accepted` event arrives on
that participant's stream. Prints p50/p99/max over the N admissions, and the `enter`
response time alone. Loopback only; stops both servers by PID; flushes Redis db 10.

    uv run python bench/lobby_admission.py [--participants 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

import httpx
from common import (
    API,
    WaitingPlace,
    admin_cookie_headers,
    create_places,
    create_room,
    create_session,
    flush_redis,
    migrate,
    percentile,
    production_env,
    serve,
    worker_rss,
)
from streams import Stream, admit, open_streams

OPEN_CONCURRENCY = 20


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


async def admit_all(
    a_base: str, b_base: str, slug: str, places: list[WaitingPlace], session: str
) -> tuple[list[float], list[float]]:
    streams = [Stream(place, slug) for place in places]
    readers = await open_streams(a_base, streams, OPEN_CONCURRENCY, timeout_s=60)
    try:
        headers = admin_cookie_headers(session)
        async with httpx.AsyncClient(base_url=b_base, headers=headers, timeout=10) as admin:
            return await admit(admin, streams)
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=200)
    args = parser.parse_args()

    env = production_env(rate_limit_per_minute=100_000, max_waiting_per_room=20_000)
    migrate(env)
    room = asyncio.run(create_room(env, "trusted"))
    try:
        with serve(env, 1) as a, serve(env, 1) as b:
            url = f"{a.base}{API}/rooms/{room.slug}/request-entry/"
            places = create_places(url, args.participants)
            session = asyncio.run(create_session(room.owner_id))
            latencies, responses = asyncio.run(
                admit_all(a.base, b.base, room.slug, places, session)
            )
            rss = {"A": worker_rss(a), "B": worker_rss(b)}
    finally:
        flush_redis()

    print("mode: ANTECHAMBER_ENVIRONMENT=production on PostgreSQL + Redis db 10")
    print("admin session: created with SessionService in the servers' Redis (no dev login)")
    print(
        f"admission, enter on process B -> accepted on the stream on process A, "
        f"{len(latencies)} sequential admissions, {args.participants} streams open "
        f"(opened {OPEN_CONCURRENCY} at a time): "
        f"p50 {ms(statistics.median(latencies))}, p99 {ms(percentile(latencies, 99))}, "
        f"max {ms(max(latencies))}, mean {ms(statistics.fmean(latencies))}"
    )
    print(
        f"enter response alone: p50 {ms(statistics.median(responses))}, "
        f"p99 {ms(percentile(responses, 99))}, max {ms(max(responses))}"
    )
    for name, workers in rss.items():
        for pid, mib in workers.items():
            print(f"process {name} ({pid}): RSS {mib:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
