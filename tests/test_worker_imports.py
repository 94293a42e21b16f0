"""What a served worker keeps out of its memory (bench/README.md, "Worker memory").

Guarded without measuring memory: a fresh interpreter builds the app the way
`antechamber serve` does (`antechamber.worker.app_from_env`), in production mode on
PostgreSQL and Redis with OIDC off, runs its lifespan, serves the docs' files, a room GET
(which mints a LiveKit token) and a lobby poll, and reports which modules it loaded. What
only rare paths use must not be among them; what they do use must still work there (the
invitations' SMTP client and the docs have their own tests; the OIDC client's are under
tests/auth; the LiveKit SDK's, loaded on a process' first call to LiveKit, under
tests/livekit, tests/webhooks and tests/moderation).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import redis

from antechamber import keptout
from antechamber.presence.turns import lease_key
from antechamber.settings import LiveKitSettings
from tests.conftest import LIVEKIT_KEY, LIVEKIT_SECRET, Backend, clean_backend
from tests.servers import closed_port

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
    "cryptography.hazmat.bindings._rust",  # PyJWT's unused algorithms (keptout.py)
    # The LiveKit SDK: tokens are minted without it; imported on a process' first call
    # to LiveKit (a webhook, moderation, the lobby telling a live room, the reconciler's
    # passes in the one process holding their lease).
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

    async def call(app, method, path):
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "headers": [(b"host", b"127.0.0.1")],
            "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
        }
        statuses, sent, done = [], [], asyncio.Event()

        async def receive():
            if not sent:
                sent.append(True)
                return {"type": "http.request", "body": b"", "more_body": False}
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
            }
        loaded = [name for name in NAMES if name in sys.modules]
        # Loaded later, as on a first call to LiveKit: without PyJWT's `cryptography`
        # backend, and the SDK's verifier checks an SDK token.
        from antechamber.livekit.sdk import load_sdk

        load_sdk()
        bindings_with_sdk = "cryptography.hazmat.bindings._rust" in sys.modules
        from livekit import api

        token = api.AccessToken(KEY, SECRET).with_identity("someone").to_jwt()
        verified = api.TokenVerifier(KEY, SECRET).verify(token).identity == "someone"
        # The mark is gone: what needs `cryptography` later (the OIDC client) loads it.
        import cryptography.hazmat.bindings._rust  # noqa: F401
        import antechamber.auth.oidc  # noqa: F401
        from joserfc import jwt
        from joserfc.jwk import RSAKey

        key = RSAKey.generate_key(2048)  # RS256, as identity providers sign ID tokens
        signed = jwt.encode({"alg": "RS256"}, {"sub": "someone"}, key)
        rsa_works = jwt.decode(signed, key).claims["sub"] == "someone"

        print(json.dumps({
            "loaded": loaded,
            "statuses": statuses,
            "bindings_with_sdk": bindings_with_sdk,
            "verified": verified,
            "rsa_works": rsa_works,
        }))

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
    script = (
        f"NAMES = {list(KEPT_OUT_OF_WORKERS)!r}\n"
        f"KEY, SECRET = {LIVEKIT_KEY!r}, {LIVEKIT_SECRET!r}\n"
        # A slug no room has, served as a public room (200, a token minted); no lobby
        # for it (404).
        "ROOM = 'no-such-room-here'\n" + _WORKER
    )
    served_env["ANTECHAMBER_ALLOW_UNREGISTERED_ROOMS"] = "true"
    served_env["ANTECHAMBER_METRICS_DIR"] = str(tmp_path)
    report = _run_worker(script, served_env)
    assert report["statuses"] == {"docs": 200, "room": 200, "poll": 404}
    assert report["loaded"] == []
    # The LiveKit SDK, loaded afterwards, leaves `cryptography` out and verifies.
    assert report["bindings_with_sdk"] is False
    assert report["verified"] is True
    # The OIDC client's RSA (through `cryptography`) works in that process afterwards.
    assert report["rsa_works"] is True


def test_kept_out_halts_an_import_inside_and_only_inside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "keptoutpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "native.py").write_text("LOADED = True\n")
    user_source = "try:\n    from keptoutpkg import native\nexcept ModuleNotFoundError:\n"
    (package / "user.py").write_text(user_source + "    native = None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("keptoutpkg", "keptoutpkg.native", "keptoutpkg.user"):
        monkeypatch.delitem(sys.modules, name, raising=False)

    with keptout.kept_out(("keptoutpkg.native",)):
        user = importlib.import_module("keptoutpkg.user")
        assert user.native is None  # set itself up without it
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("keptoutpkg.native")
    assert "keptoutpkg.native" not in sys.modules  # the mark is gone
    native = importlib.import_module("keptoutpkg.native")
    assert native.LOADED is True
    # Already loaded: left alone.
    with keptout.kept_out(("keptoutpkg.native",)):
        assert sys.modules["keptoutpkg.native"] is native
    assert sys.modules["keptoutpkg.native"] is native


_LEASED_WORKER = textwrap.dedent(
    """
    import asyncio, json, sys, time

    from antechamber.worker import app_from_env

    def state(services):
        return {
            "leading": services.reconciler.leading,
            "sdk": "livekit.api" in sys.modules,
            "bindings": "cryptography.hazmat.bindings._rust" in sys.modules,
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
                if services.reconciler.leading and "livekit.api" in sys.modules:
                    break
                await asyncio.sleep(0.1)
            after = state(services)
        print(json.dumps({"before": before, "after": after}))

    asyncio.run(main())
    """
)


def test_a_worker_without_the_reconcilers_lease_never_loads_the_livekit_sdk(
    served_env: dict[str, str], postgres_backend: Backend, tmp_path: Path
) -> None:
    """Another process holds the lease on the periodic passes: this worker runs none, and
    loads no SDK; once the lease is free it takes it, and its first sweep loads the SDK
    (LiveKit is down here: the call fails, the SDK is loaded all the same)."""
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
    assert report["before"] == {"leading": False, "sdk": False, "bindings": False}
    assert report["after"] == {"leading": True, "sdk": True, "bindings": False}


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
