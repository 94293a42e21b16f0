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
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

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
    production_env,
    serve,
    worker_rss,
)

ACCEPTED = b'"status":"accepted"'
EVENT_TIMEOUT_S = 10.0
OPEN_CONCURRENCY = 20


@dataclass
class Stream:
    place: WaitingPlace
    opened: asyncio.Event = field(default_factory=asyncio.Event)
    accepted: asyncio.Event = field(default_factory=asyncio.Event)
    accepted_at: float = 0.0
    error: str = ""


async def follow(base: str, slug: str, stream: Stream) -> None:
    """Reads the participant's SSE stream with a bare socket (little client overhead)."""
    address = urlsplit(base)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        writer.write(
            (
                f"GET {API}/rooms/{slug}/lobby-events/ HTTP/1.1\r\n"
                f"Host: {address.netloc}\r\n"
                f"Cookie: lobbyParticipantId={stream.place.cookie}\r\n"
                "Accept: text/event-stream\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        seen = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            seen += chunk
            if b"\r\n\r\n" in seen and not seen.startswith(b"HTTP/1.1 200"):
                stream.error = seen[:300].decode(errors="replace")
                stream.opened.set()
                return
            if not stream.opened.is_set() and b'"status":"waiting"' in seen:
                stream.opened.set()
            if ACCEPTED in seen:
                stream.accepted_at = time.perf_counter()
                stream.accepted.set()
                return
    finally:
        writer.close()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def admit_all(
    a_base: str, b_base: str, slug: str, places: list[WaitingPlace], session: str
) -> tuple[list[float], list[float]]:
    streams = [Stream(place) for place in places]
    readers: list[asyncio.Task[None]] = []
    try:
        # At most OPEN_CONCURRENCY streams opening at a time: a burst of more than 100
        # concurrent opens on one process exhausts redis-py's (non-blocking, 100) pool
        # and some opens fail with 500 (MaxConnectionsError).
        async with asyncio.timeout(60):
            for first in range(0, len(streams), OPEN_CONCURRENCY):
                batch = streams[first : first + OPEN_CONCURRENCY]
                readers += [asyncio.create_task(follow(a_base, slug, s)) for s in batch]
                await asyncio.gather(*(stream.opened.wait() for stream in batch))
        refused = [stream.error for stream in streams if stream.error]
        if refused:
            raise SystemExit(f"{len(refused)} streams refused, e.g. {refused[0]}")
        latencies, responses = [], []
        headers = admin_cookie_headers(session)
        async with httpx.AsyncClient(base_url=b_base, headers=headers, timeout=10) as admin:
            for stream in streams:
                body = {"participant_id": stream.place.id, "allow_entry": True}
                start = time.perf_counter()
                answer = await admin.post(f"{API}/rooms/{slug}/enter/", json=body)
                responses.append(time.perf_counter() - start)
                if answer.status_code != 200:
                    raise SystemExit(f"enter answered {answer.status_code}: {answer.text}")
                async with asyncio.timeout(EVENT_TIMEOUT_S):
                    await stream.accepted.wait()
                latencies.append(stream.accepted_at - start)
        return latencies, responses
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
