"""A real LiveKit server and a real-HTTP Antechamber wired to each other, for the session.

LiveKit's webhooks go to the Antechamber server; Antechamber's gateway and tokens point
at LiveKit. Both run on PostgreSQL and Redis, like production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from antechamber.app import create_app
from antechamber.livekit.sdk_gateway import SdkLiveKitGateway
from antechamber.presence.redis_store import RedisPresenceStore
from antechamber.settings import LiveKitSettings, Settings
from tests.conftest import LIVEKIT_KEY, LIVEKIT_SECRET, Backend, make_settings
from tests.http_server import HttpBrowser, ThreadedServer
from tests.livekit_server import LiveKitServer, livekit_binary, start_livekit
from tests.servers import free_port

GATEWAY_TIMEOUT_S = 3.0


@dataclass
class Live:
    livekit: LiveKitServer
    antechamber: ThreadedServer
    settings: Settings
    backend: Backend

    def browser(self) -> HttpBrowser:
        return HttpBrowser(self.antechamber.base_url)


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, postgres_backend: Backend) -> Iterator[Live]:
    binary = livekit_binary()
    app_port = free_port()
    webhook_url = f"http://127.0.0.1:{app_port}/api/v1.0/rooms/webhooks-livekit/"
    livekit = start_livekit(
        binary, tmp_path_factory.mktemp("livekit"), LIVEKIT_KEY, LIVEKIT_SECRET, webhook_url
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
        )
        server = ThreadedServer(create_app(settings), app_port)
        server.start()
        try:
            yield Live(livekit, server, settings, postgres_backend)
        finally:
            server.stop()
    finally:
        livekit.stop()


@pytest.fixture
async def gateway(live: Live) -> AsyncIterator[SdkLiveKitGateway]:
    gateway = SdkLiveKitGateway(
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
