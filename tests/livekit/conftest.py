"""A real LiveKit server and a real-HTTP Antechamber wired to each other, for the session.

LiveKit's webhooks go to the Antechamber server; Antechamber's gateway and tokens point
at LiveKit. Both run on PostgreSQL and Redis, like production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from starlette.types import Message, Receive, Scope, Send

from antechamber.app import create_app
from antechamber.container import Services
from antechamber.livekit.twirp import TwirpLiveKitGateway
from antechamber.presence.redis_store import RedisPresenceStore
from antechamber.settings import LiveKitSettings, ReconcileSettings, Settings
from tests.conftest import LIVEKIT_KEY, LIVEKIT_SECRET, Backend, make_settings
from tests.http_server import HttpBrowser, ThreadedServer
from tests.livekit_server import LiveKitServer, start_livekit_for_app

# The real server answers in milliseconds; on a loaded machine (two CI runs at once reached
# load 15) a call took over 3 s, and the reconciler's calls failed one after another.
GATEWAY_TIMEOUT_S = 10.0
WEBHOOK_PATH = "/api/v1.0/rooms/webhooks-livekit/"


@dataclass
class Delivery:
    """A webhook as LiveKit sent it: raw body and its signature."""

    body: bytes
    authorization: str


@dataclass
class WebhookGate:
    """Sits in front of the Antechamber under test: lets LiveKit's webhooks through, or
    (when `dropping`) answers 200 without handing them on, as if they were lost. Every
    webhook that arrives is kept in `seen`, so a test can deliver it itself later, twice
    or out of order."""

    app: FastAPI
    dropping: bool = False
    seen: list[Delivery] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != WEBHOOK_PATH:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        headers = dict(scope["headers"])
        self.seen.append(Delivery(body, headers.get(b"authorization", b"").decode()))
        if self.dropping:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b'{"status":"dropped"}'})
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


@dataclass
class Live:
    livekit: LiveKitServer
    antechamber: ThreadedServer
    settings: Settings
    backend: Backend
    gate: WebhookGate

    def browser(self) -> HttpBrowser:
        return HttpBrowser(self.antechamber.base_url)

    @property
    def services(self) -> Services:
        """The server's services: use them only through `antechamber.call(...)`."""
        services: Services = self.gate.app.state.services
        return services


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, postgres_backend: Backend) -> Iterator[Live]:
    livekit, app_port = start_livekit_for_app(
        tmp_path_factory.mktemp("livekit"), LIVEKIT_KEY, LIVEKIT_SECRET
    )
    try:
        settings = make_settings(
            postgres_backend,
            livekit=LiveKitSettings(
                url=livekit.url,
                api_key=LIVEKIT_KEY,
                api_secret=LIVEKIT_SECRET,
                timeout_s=GATEWAY_TIMEOUT_S,
            ),
            # Rooms with a ban are watched as in production; the sweep of every live
            # room is left to the tests that call it, so they see what webhooks alone did.
            reconcile=ReconcileSettings(interval_s=3600),
        )
        gate = WebhookGate(create_app(settings))
        server = ThreadedServer(gate, app_port)
        server.start()
        try:
            yield Live(livekit, server, settings, postgres_backend, gate)
        finally:
            server.stop()
    finally:
        livekit.stop()


@pytest.fixture
async def gateway(live: Live) -> AsyncIterator[TwirpLiveKitGateway]:
    gateway = TwirpLiveKitGateway(
        live.livekit.http_url, LIVEKIT_KEY, LIVEKIT_SECRET, GATEWAY_TIMEOUT_S
    )
    yield gateway
    await gateway.close()


@pytest.fixture
async def presence(live: Live) -> AsyncIterator[RedisPresenceStore]:
    """The same Redis the Antechamber server writes presence to, read from the test."""
    assert live.backend.redis_url is not None
    redis = Redis.from_url(live.backend.redis_url)
    yield RedisPresenceStore(redis)
    await redis.aclose()
