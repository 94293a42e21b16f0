"""Antechamber served over real HTTP on loopback (uvicorn in a thread), for callers that
can't use an in-process transport: the LiveKit server POSTing its webhooks."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

START_TIMEOUT_S = 15.0


class ThreadedServer:
    def __init__(self, app: FastAPI, port: int) -> None:
        self.port = port
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        self._thread = threading.Thread(target=self._server.run, name="antechamber", daemon=True)

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
