"""A browser's cookies, kept per visitor, over real HTTP to served processes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx


class Visitor:
    """One browser: cookies shared by every process, as behind one load balancer.

    Cookies are kept here, per visitor, and sent explicitly; the shared client's own jar
    is emptied before each request so one visitor's cookies never reach another's call.
    """

    def __init__(self, client: httpx.AsyncClient, base_url: str = "") -> None:
        self.client = client
        self.base_url = base_url
        self.cookies: dict[str, str] = {}

    def _headers(self, unsafe: bool) -> dict[str, str]:
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if unsafe and "csrftoken" in self.cookies:
            headers["X-CSRFToken"] = self.cookies["csrftoken"]
        return headers

    def _keep(self, response: httpx.Response) -> None:
        for name, value in response.cookies.items():
            self.cookies[name] = value

    async def request(self, method: str, url: str, body: Any = None) -> httpx.Response:
        self.client.cookies.clear()
        response = await self.client.request(
            method, self.base_url + url, json=body, headers=self._headers(method != "GET")
        )
        self._keep(response)
        return response

    async def login(self, email: str) -> dict[str, Any]:
        response = await self.request("POST", "/api/v1.0/dev-login/", {"email": email})
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    @asynccontextmanager
    async def stream(self, url: str) -> AsyncIterator[httpx.Response]:
        self.client.cookies.clear()
        async with self.client.stream(
            "GET", self.base_url + url, headers=self._headers(False)
        ) as response:
            yield response
