"""One route served below FastAPI's per-request machinery, for the request repeated the
most: every waiting participant polls request-entry every few seconds (issue 11).

FastAPI's request handling (body reading and validation, the endpoint's dependency
graph, its exit stacks) was about a sixth of a poll's time. `JsonPostRoute` serves the
common case itself: a POST whose body is a JSON object the route's model accepts. It
reads the body, validates it with the same model, and calls the same function as the
declared FastAPI route. Anything else (another content type, an empty body, a body the
model refuses, a root path) goes to the app's router as if this route did not exist,
with the body replayed: those answers, 4xx included, are FastAPI's, unchanged.

Placed first among the app's routes, and so inside every middleware: the request id,
access log, metrics, body limit, CSRF cookie and error handlers all apply as before.
The FastAPI route stays declared: it serves the rest, and the OpenAPI document.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import ASGIApp, Message, Receive, Scope, Send

M = TypeVar("M", bound=BaseModel)
# Set on a request handed back to the router, so that this route no longer matches it.
FALLBACK = "antechamber.fallback"
_JSON = b"application/json"


class JsonPostRoute(BaseRoute, Generic[M]):
    """POST `{prefix}{param}{suffix}` (one path segment as the parameter), with a JSON
    body validated by `model`, answered by `handler(request, param, body)`."""

    def __init__(
        self,
        prefix: str,
        param: str,
        suffix: str,
        model: type[M],
        handler: Callable[[Request, str, M], Awaitable[Response]],
        fallback: ASGIApp,
    ) -> None:
        self.prefix = prefix
        self.param = param
        self.suffix = suffix
        self.model = model
        self.handler = handler
        self.fallback = fallback
        # What the router reports as the selected route's template.
        self.path_format = f"{prefix}{{{param}}}{suffix}"

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        # Unnamed: `url_for` names the declared route, which this one stands in front of.
        raise NoMatchFound(name, path_params)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "POST" or FALLBACK in scope:
            return Match.NONE, {}
        if scope.get("root_path"):
            return Match.NONE, {}
        path: str = scope["path"]
        if not (path.startswith(self.prefix) and path.endswith(self.suffix)):
            return Match.NONE, {}
        value = path[len(self.prefix) : len(path) - len(self.suffix)]
        if not value or "/" in value:
            return Match.NONE, {}
        return Match.FULL, {"endpoint": self.handler, "path_params": {self.param: value}}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        if body is None:  # the client left before sending its body: no one to answer
            return
        parsed = self._parse(scope, body)
        if parsed is None:
            scope[FALLBACK] = True
            await self.fallback(scope, _replay(body, receive), send)
            return
        request = Request(scope, receive)
        response = await self.handler(request, scope["path_params"][self.param], parsed)
        await response(scope, receive, send)

    def _parse(self, scope: Scope, body: bytes) -> M | None:
        """The body as the model, or None for anything but a plain JSON object it
        accepts (the declared route then answers, as it always has)."""
        if not body or not _is_json(scope):
            return None
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                return None
            return self.model.model_validate(data)
        except (ValueError, RecursionError):  # bad JSON, too deep, or refused by the model
            return None


def _is_json(scope: Scope) -> bool:
    name: bytes
    value: bytes
    for name, value in scope["headers"]:
        if name == b"content-type":
            return value.partition(b";")[0].strip().lower() == _JSON
    return False


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body already read, then the real one's messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
