"""What a served worker keeps out of its memory (bench/README.md, "Worker memory").

Guarded without measuring memory: a fresh interpreter builds the app the way
`antechamber serve` does (`antechamber.worker.app_from_env`), in production mode on
PostgreSQL and Redis with OIDC off, runs its lifespan, serves the docs' files, a room GET
(which mints a LiveKit token), a lobby poll, a signed webhook and a call to LiveKit, and
reports which modules it loaded. What only rare paths use must not be among them; what
they do use must still work there (the invitations' SMTP client and the docs have their
own tests; the OIDC client's are under tests/auth). The LiveKit SDK is never loaded: the
service mints and checks LiveKit's tokens, reads webhooks and calls the RoomService
without it (tests/livekit, tests/webhooks and tests/moderation hold that code to the SDK
and to a real LiveKit server).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import redis

from antechamber.presence.turns import lease_key
from antechamber.settings import LiveKitSettings
from tests.conftest import LIVEKIT_KEY, LIVEKIT_SECRET, Backend, clean_backend
from tests.servers import closed_port
from tests.webhooks.signing import WEBHOOK, event_body, signature

# Loaded only on the rare paths that use them (or, for the last ones, never installed or
# never imported by a worker).
KEPT_OUT_OF_WORKERS = (
    "alembic",  # migrations: `antechamber migrate`, or the SQLite default's start
    "antechamber.db.migrate",
    "antechamber.auth.oidc",  # the OIDC client, only when OIDC is configured
    "authlib",
    "httpx",
    "fastapi_offline",  # only its static files are served, from its folder
    "smtplib",  # email invitations, imported on the first one
    "cryptography.hazmat.bindings._rust",  # the OIDC client's RSA keys
    # The LiveKit SDK and what it would bring (~15 MiB): never imported by the service.
    "livekit.api",
    "livekit.protocol",
    "aiohttp",
    "google.protobuf",
    "jwt",
    "watchfiles",  # uvicorn's reloader: not installed (uvicorn without `standard`)
    "websockets",
)

_WORKER = textwrap.dedent(
    """
    import asyncio, json, sys

    from antechamber.worker import app_from_env

    async def call(app, method, path, body=b"", headers=()):
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), *headers],
            "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
        }
        statuses, sent, done = [], [], asyncio.Event()

        async def receive():
            if not sent:
                sent.append(True)
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
            elif not message.get("more_body", False):
                done.set()

        await app(scope, receive, send)
        return statuses[0]

    async def main():
        app = app_from_env()
        async with app.router.lifespan_context(app):
            statuses = {
                "docs": await call(app, "GET", "/api/v1.0/docs/static/swagger-ui.css"),
                "room": await call(app, "GET", f"/api/v1.0/rooms/{ROOM}/"),
                "poll": await call(app, "POST", f"/api/v1.0/rooms/{ROOM}/request-entry/"),
                "webhook": await call(
                    app, "POST", WEBHOOK, WEBHOOK_BODY, [(b"authorization", SIGNATURE)]
                ),
            }
            try:  # LiveKit is down here: the call is made, and fails
                await app.state.services.livekit.list_rooms()
            except Exception as exc:
                statuses["livekit"] = type(exc).__name__
        loaded = [name for name in NAMES if name in sys.modules]
        print(json.dumps({"loaded": loaded, "statuses": statuses}))

    asyncio.run(main())
    """
)


@pytest.fixture
def served_env(postgres_backend: Backend) -> dict[str, str]:
    clean_backend(postgres_backend)
    assert postgres_backend.redis_url is not None
    return {
        "PATH": "/usr/bin:/bin",
        "ANTECHAMBER_ENVIRONMENT": "production",
        "ANTECHAMBER_SECRET_KEY": "worker-imports-secret-0123456789abcdefghij",
        "ANTECHAMBER_LOG_LEVEL": "warning",
        "ANTECHAMBER_RECONCILE_ENABLED": "false",
        "DATABASE_URL": postgres_backend.database_url,
        "REDIS_URL": postgres_backend.redis_url,
        "LIVEKIT_URL": "ws://127.0.0.1:7880",
        "LIVEKIT_API_KEY": LIVEKIT_KEY,
        "LIVEKIT_API_SECRET": LIVEKIT_SECRET,
    }


def test_a_production_worker_loads_nothing_that_only_rare_paths_use(
    served_env: dict[str, str], tmp_path: Path
) -> None:
    # Signed by the official SDK, as LiveKit signs it.
    body = event_body("room_finished", "no-such-room-here")
    script = (
        f"NAMES = {list(KEPT_OUT_OF_WORKERS)!r}\n"
        f"WEBHOOK, WEBHOOK_BODY = {WEBHOOK!r}, {body!r}\n"
        f"SIGNATURE = {signature(body).encode()!r}\n"
        # A slug no room has, served as a public room (200, a token minted); no lobby
        # for it (404).
        "ROOM = 'no-such-room-here'\n" + _WORKER
    )
    served_env["ANTECHAMBER_ALLOW_UNREGISTERED_ROOMS"] = "true"
    served_env["ANTECHAMBER_METRICS_DIR"] = str(tmp_path)
    served_env["LIVEKIT_URL"] = f"ws://127.0.0.1:{closed_port()}"
    report = _run_worker(script, served_env)
    assert report["statuses"] == {
        "docs": 200,
        "room": 200,
        "poll": 404,
        "webhook": 200,
        "livekit": "UpstreamUnavailable",
    }
    assert report["loaded"] == []


_LEASED_WORKER = textwrap.dedent(
    """
    import asyncio, json, sys, time

    from antechamber.worker import app_from_env

    def state(services):
        return {
            "leading": services.reconciler.leading,
            "calls": services.livekit.calls_made,
            "sdk": "livekit.api" in sys.modules,
        }

    async def main():
        app = app_from_env()
        async with app.router.lifespan_context(app):
            services = app.state.services
            await asyncio.sleep(3)  # ~15 banned passes' times, 2-3 sweeps' times
            before = state(services)
            await services.redis.delete(LEASE)  # the other process is gone
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if services.reconciler.leading and services.livekit.calls_made:
                    break
                await asyncio.sleep(0.1)
            after = state(services)
        print(json.dumps({"before": before, "after": after}))

    asyncio.run(main())
    """
)


def test_a_worker_without_the_reconcilers_lease_never_calls_livekit(
    served_env: dict[str, str], postgres_backend: Backend, tmp_path: Path
) -> None:
    """Another process holds the lease on the periodic passes: this worker runs none and
    calls LiveKit never; once the lease is free it takes it and sweeps (LiveKit is down
    here: the calls fail), still without the SDK."""
    assert postgres_backend.redis_url is not None
    livekit_url = f"ws://127.0.0.1:{closed_port()}"
    livekit = LiveKitSettings(url=livekit_url, api_key=LIVEKIT_KEY, api_secret=LIVEKIT_SECRET)
    lease = lease_key(livekit.http_url, livekit.api_key)
    client = redis.Redis.from_url(postgres_backend.redis_url)
    client.set(lease, "another-process", px=120_000)
    client.close()
    served_env.update(
        {
            "ANTECHAMBER_METRICS_DIR": str(tmp_path),
            "ANTECHAMBER_RECONCILE_ENABLED": "true",
            "ANTECHAMBER_RECONCILE_INTERVAL_S": "1",
            "ANTECHAMBER_RECONCILE_BANNED_INTERVAL_S": "0.2",
            "LIVEKIT_URL": livekit_url,
        }
    )
    report = _run_worker(f"LEASE = {lease!r}\n" + _LEASED_WORKER, served_env)
    assert report["before"] == {"leading": False, "calls": 0, "sdk": False}
    assert report["after"]["leading"] is True
    assert report["after"]["calls"] > 0
    assert report["after"]["sdk"] is False


def _run_worker(script: str, env: dict[str, str]) -> Any:
    """Runs `script` in a fresh interpreter; its last line of output is a JSON report."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
