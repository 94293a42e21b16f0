"""Antechamber served over real HTTP on loopback (uvicorn in a thread), for callers that
can't use an in-process transport: the LiveKit server POSTing its webhooks."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
import uvicorn
from starlette.types import ASGIApp

START_TIMEOUT_S = 15.0


T = TypeVar("T")
CALL_TIMEOUT_S = 30.0


class ThreadedServer:
    def __init__(self, app: ASGIApp, port: int) -> None:
        self.port = port
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._serve, name="antechamber", daemon=True)

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._server.serve())
        finally:
            self._loop.close()

    async def call(self, work: Coroutine[Any, Any, T]) -> T:
        """Runs `work` on the server's own event loop (where its clients and pools live)."""
        assert self._loop is not None, "the server is not running"
        future = asyncio.run_coroutine_threadsafe(work, self._loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), CALL_TIMEOUT_S)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Antechamber test server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(START_TIMEOUT_S)


class HttpBrowser(httpx.AsyncClient):
    """Keeps cookies and echoes the CSRF cookie like the front end, over real HTTP."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        kwargs.setdefault("timeout", 10)
        super().__init__(base_url=base_url, event_hooks={"request": [self._add_csrf]}, **kwargs)

    async def _add_csrf(self, request: httpx.Request) -> None:
        token = self.cookies.get("csrftoken")
        if token and request.method not in ("GET", "HEAD", "OPTIONS"):
            request.headers.setdefault("X-CSRFToken", token)

    async def login(self, email: str) -> None:
        response = await self.post("/api/v1.0/dev-login/", json={"email": email})
        assert response.status_code == 200, response.text
