"""The same path with or without its trailing slash reaches the same endpoint."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

API_PREFIX = "/api/v1.0/"
# Paths that are files, not collections: never given a slash.
_EXACT = frozenset({"/api/v1.0/openapi.json", "/api/v1.0/docs", "/api/v1.0/redoc"})
_FILES = "/api/v1.0/docs/static/"


class TrailingSlashMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            if (
                path.startswith(API_PREFIX)
                and not path.endswith("/")
                and path not in _EXACT
                and not path.startswith(_FILES)
            ):
                scope = dict(scope)
                scope["path"] = path + "/"
                scope["raw_path"] = scope.get("raw_path", path.encode()) + b"/"
        await self.app(scope, receive, send)
