"""Antechamber's web client in a real Chromium (Debian's, driven by Playwright) with fake
camera and microphone, against a real LiveKit server and Antechamber over HTTP.

Needs `/usr/bin/chromium` (`apt-get install chromium`; never `playwright install`), Node
and npm to build `web/` (and its `node_modules` for axe-core). Without them the tests are
skipped, or fail when ANTECHAMBER_TEST_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    async_playwright,
)

from antechamber import webclient
from antechamber.app import create_app
from antechamber.livekit.twirp import TwirpLiveKitGateway
from antechamber.settings import LiveKitSettings, LobbySettings
from tests.conftest import (
    LIVEKIT_KEY,
    LIVEKIT_SECRET,
    REQUIRE_SERVICES,
    Backend,
    clean_backend,
    make_settings,
)
from tests.http_server import ThreadedServer
from tests.livekit_server import LiveKitServer, start_livekit_for_app

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-results" / "browser"
AXE = webclient.SOURCE / "node_modules" / "axe-core" / "axe.min.js"
STEP_TIMEOUT_MS = 20_000
CHROMIUM_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


def _missing(message: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def web_dist() -> Path:
    """The client built from web/ (built here when stale)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        _missing("Node.js and npm are needed to build the web client (web/)")
    outcome = webclient.prepare(webclient.SOURCE)
    assert outcome.served, outcome.message
    if not AXE.is_file():
        _missing(f"axe-core is missing: {AXE} (npm --prefix web ci)")
    return webclient.SOURCE / "dist"


@dataclass
class Site:
    livekit: LiveKitServer
    antechamber: ThreadedServer
    gateway_args: tuple[str, str, str, float]

    @property
    def url(self) -> str:
        return self.antechamber.base_url

    def gateway(self) -> TwirpLiveKitGateway:
        return TwirpLiveKitGateway(*self.gateway_args)


@pytest.fixture(scope="module")
def site_overrides() -> dict[str, Any]:
    """Override in a test module to change the settings of its site."""
    return {}


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_backend: Backend,
    web_dist: Path,
    site_overrides: dict[str, Any],
) -> Iterator[Site]:
    """LiveKit and Antechamber (PostgreSQL, Redis) serving the built client, per module."""
    if not CHROMIUM.is_file():
        _missing(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    clean_backend(postgres_backend)
    livekit, app_port = start_livekit_for_app(
        tmp_path_factory.mktemp("livekit"), LIVEKIT_KEY, LIVEKIT_SECRET
    )
    try:
        settings = make_settings(
            postgres_backend,
            frontend_dir=web_dist,
            # Polling fallback every second (the default is 5 s), to keep the tests short.
            lobby=LobbySettings(poll_interval_s=1),
            **site_overrides,
            livekit=LiveKitSettings(
                url=livekit.url, api_key=LIVEKIT_KEY, api_secret=LIVEKIT_SECRET, timeout_s=5
            ),
        )
        server = ThreadedServer(create_app(settings), app_port)
        server.start()
        try:
            yield Site(livekit, server, (livekit.http_url, LIVEKIT_KEY, LIVEKIT_SECRET, 5.0))
        finally:
            server.stop()
    finally:
        livekit.stop()


@pytest.fixture
async def chromium(site: Site) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()


class Person:
    """One browser context (its own cookies): a host or a guest."""

    def __init__(self, name: str, context: BrowserContext, page: Page, shots: Path) -> None:
        self.name = name
        self.context = context
        self.page = page
        self._shots = shots

    async def shot(self, step: str) -> None:
        await self.page.screenshot(path=self._shots / f"{step}-{self.name}.png")

    async def axe(self, screen: str) -> None:
        """No serious or critical axe-core violation on the current screen."""
        if not await self.page.evaluate("typeof window.axe !== 'undefined'"):
            await self.page.add_script_tag(path=str(AXE))
        results: list[dict[str, Any]] = await self.page.evaluate(
            """async () => {
                const r = await axe.run(document, {resultTypes: ['violations']});
                return r.violations
                  .filter(v => v.impact === 'serious' || v.impact === 'critical')
                  .map(v => ({id: v.id, impact: v.impact, help: v.help,
                              nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
            }"""
        )
        assert results == [], f"axe on {screen} ({self.name}): {json.dumps(results, indent=1)}"


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    """A folder named after the test for its screenshots."""
    folder = SCREENSHOTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


PersonFactory = Callable[..., Awaitable[Person]]


@pytest.fixture
async def people(chromium: Browser, site: Site, shots: Path) -> AsyncIterator[PersonFactory]:
    contexts: list[BrowserContext] = []
    logs: list[TextIO] = []

    async def person(name: str, width: int = 1280, height: int = 800) -> Person:
        context = await chromium.new_context(
            base_url=site.url,
            viewport={"width": width, "height": height},
            permissions=["camera", "microphone"],
        )
        context.set_default_timeout(STEP_TIMEOUT_MS)
        contexts.append(context)
        page = await context.new_page()
        # The page's console and its API calls, beside the screenshots.
        log = (shots / f"{name}.log").open("a", encoding="utf-8")
        logs.append(log)

        def on_console(message: ConsoleMessage) -> None:
            log.write(f"{message.type}: {message.text[:300]}\n")

        def on_response(response: Response) -> None:
            if "/api/" in response.url:
                log.write(f"{response.request.method} {response.url} {response.status}\n")

        page.on("console", on_console)
        page.on("response", on_response)
        return Person(name, context, page, shots)

    yield person
    for context in contexts:
        await context.close()
    for log in logs:
        log.close()
