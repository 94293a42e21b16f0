"""La Suite Meet's front end as its `fetchApi` calls the API, against Antechamber over
real HTTP, with a real LiveKit server and a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from antechamber.app import create_app
from antechamber.settings import ConnectionTestSettings, EmailSettings, LiveKitSettings
from tests.conftest import LIVEKIT_KEY, LIVEKIT_SECRET, make_settings
from tests.http_server import ThreadedServer
from tests.livekit.conftest import GATEWAY_TIMEOUT_S, Live, gateway, live
from tests.servers import free_port

__all__ = ["gateway", "live"]
CONNECTION_TEST_TTL_S = 30


class FrontEnd(httpx.AsyncClient):
    """What `fetchApi` sends on every call: `credentials: 'include'` (the cookie jar),
    `Content-Type: application/json`, and `X-CSRFToken` whenever the cookie is there
    (on GETs too)."""

    def __init__(self, base_url: str) -> None:
        super().__init__(
            base_url=base_url, timeout=15, event_hooks={"request": [self._like_fetch_api]}
        )

    async def _like_fetch_api(self, request: httpx.Request) -> None:
        request.headers["Content-Type"] = "application/json"
        token = self.cookies.get("csrftoken")
        if token:
            request.headers["X-CSRFToken"] = token

    async def login(self, email: str) -> dict[str, Any]:
        response = await self.post("/api/v1.0/dev-login/", json={"email": email})
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def api(self, method: str, url: str, body: Any = None, **kwargs: Any) -> Any:
        """`fetchApi(url, {method, body: JSON.stringify(body)})`: its URL is relative to
        the API root; a 204 or an empty body reads as `{}`."""
        content = None if body is None else httpx.Request("POST", "/", json=body).content
        return await self.request(method, "/api/v1.0/" + url.lstrip("/"), content=content, **kwargs)


@dataclass
class Mailbox:
    messages: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture(scope="session")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@dataclass
class Site:
    server: ThreadedServer
    live: Live
    mailbox: Mailbox

    def front_end(self) -> FrontEnd:
        return FrontEnd(self.server.base_url)


@pytest.fixture(scope="session")
def site(live: Live, mailbox: tuple[Mailbox, int]) -> Iterator[Site]:
    """Antechamber as La Suite Meet deploys it with everything on: the connection test,
    email invitations; on the same PostgreSQL, Redis and LiveKit as `live`."""
    box, smtp_port = mailbox
    settings = make_settings(
        live.backend,
        livekit=LiveKitSettings(
            url=live.livekit.url,
            api_key=LIVEKIT_KEY,
            api_secret=LIVEKIT_SECRET,
            timeout_s=GATEWAY_TIMEOUT_S,
        ),
        connection_test=ConnectionTestSettings(enabled=True, ttl_s=CONNECTION_TEST_TTL_S),
        email=EmailSettings(
            host="127.0.0.1",
            port=smtp_port,
            from_address="meet@antechamber.test",
            app_base_url="https://meet.antechamber.test",
            invite_rate_limit_per_hour=5,
        ),
    )
    server = ThreadedServer(create_app(settings), free_port())
    server.start()
    try:
        yield Site(server, live, box)
    finally:
        server.stop()
