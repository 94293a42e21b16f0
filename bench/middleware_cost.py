"""What the application's middleware stack costs per request, alone.

Builds the real app (`create_app`, production settings, no lifespan: no database, Redis
or LiveKit is reached) and swaps its router for an endpoint that only reads the body and
answers 200 as a route would (it names its route and path parameter in the scope, as the
router does, for the metrics' route template). Then calls that stack in this process,
sequentially, with a poll's request (POST request-entry, lobby and CSRF cookies, a 2-byte
JSON body) and a room GET, and prints microseconds per request: Starlette's error and
exception layers and every middleware `create_app` adds (path normaliser, request id,
access log and metrics in files as served, CSRF cookie, edge checks), nothing else.
CPU-bound and in one process, so much steadier on a shared machine than a served run.

    uv run python bench/middleware_cost.py [--requests 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import MutableMapping
from typing import Any

from common import http_scope
from starlette.types import Receive, Scope, Send

SLUG = "abc-defg-hij"


class _Route:
    """Stands for the matched route, as the router leaves it in the scope."""


ROUTE = _Route()


async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    scope["route"] = ROUTE
    scope["path_params"] = {"room_key": SLUG}
    more = scope["method"] == "POST"
    while more:
        message = await receive()
        more = message.get("more_body", False)
    body = b'{"status":"waiting"}'
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _scope(method: str, path: str, body: bytes) -> dict[str, Any]:
    lobby, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    cookie = f"lobbyParticipantId={lobby}; csrftoken={csrf}"
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"user-agent", b"wrk"),
        (b"accept", b"*/*"),
        (b"cookie", cookie.encode()),
    ]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", b"2")]
    return http_scope(method, path, headers)


async def measure(stack: Any, method: str, path: str, requests: int) -> list[float]:
    body = b"{}" if method == "POST" else b""
    template = _scope(method, path, body)
    statuses: dict[int, int] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses[message["status"]] = statuses.get(message["status"], 0) + 1

    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(requests // 5):
            await stack(dict(template), receive, send)
        rounds.append((time.perf_counter() - started) / (requests // 5) * 1e6)
    if set(statuses) != {200}:
        raise SystemExit(f"{method} {path}: unexpected statuses {statuses}")
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    os.environ.update(
        {
            "ANTECHAMBER_ENVIRONMENT": "production",
            "ANTECHAMBER_SECRET_KEY": secrets.token_urlsafe(48),
            "ANTECHAMBER_LOG_LEVEL": "warning",
            "DATABASE_URL": "postgresql://bench:unused@127.0.0.1:9/unused",
            "REDIS_URL": "redis://127.0.0.1:9/0",
            "LIVEKIT_URL": "ws://127.0.0.1:7880",
            "LIVEKIT_API_KEY": "bench-key",
            "LIVEKIT_API_SECRET": secrets.token_urlsafe(48),
        }
    )
    # Metrics in files shared by the workers, as `antechamber serve` sets them up.
    metrics_dir = tempfile.mkdtemp(prefix="antechamber-bench-metrics-")
    os.environ["ANTECHAMBER_METRICS_DIR"] = os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    from antechamber.app import app_from_env

    app = app_from_env()
    app.router = endpoint  # type: ignore[assignment]
    stack = app.build_middleware_stack()
    calls = [
        ("POST", f"/api/v1.0/rooms/{SLUG}/request-entry/"),
        ("GET", f"/api/v1.0/rooms/{SLUG}/"),
    ]
    print(f"middleware stack alone, {args.requests} sequential calls each, 5 rounds")
    for method, path in calls:
        asyncio.run(measure(stack, method, path, 2000))  # warm-up
        rounds = asyncio.run(measure(stack, method, path, args.requests))
        print(
            f"{method:4s} {path}: median {statistics.median(rounds):.1f} us/request "
            f"(rounds {', '.join(f'{r:.1f}' for r in rounds)})"
        )


if __name__ == "__main__":
    main()
