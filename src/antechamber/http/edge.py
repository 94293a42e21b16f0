"""What every request must satisfy before any route sees it: a bounded body, and a query
free of control characters (a path with one simply names nothing: 404).

Pure ASGI, so a refused request costs no routing, no dependency and no body read: a
declared `Content-Length` over the limit is answered 413 at once, and a chunked body is
counted as it streams and cut off at the limit.
"""

from __future__ import annotations

import json
import re
import urllib.parse

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Percent-encoded or raw C0 controls and DEL in the query string. PostgreSQL can't store
# NUL, and no parameter of this API holds a control.
_CONTROL_RAW = re.compile(rb"[\x00-\x1f\x7f]")
_CONTROL_ENCODED = re.compile(rb"%(?:[01][0-9a-fA-F]|7[fF])")
_CONTROL_TEXT = re.compile(r"[\x00-\x1f\x7f]")
# Versions whose framing a server enforces: a body is either of the declared length or
# chunked (Transfer-Encoding); with neither header there is none.
_FRAMED_VERSIONS = frozenset({"1.0", "1.1"})


class BodyTooLarge(HTTPException):
    """Raised into the app when a streamed body passes the limit. An HTTPException, so
    the framework's body parsing passes it on as the 413 it is, not as a parse error."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes.")


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int, exempt_paths: frozenset[str]) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Routes that read and bound their own body (the webhook keeps LiveKit's limit).
        self.exempt_paths = exempt_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query: bytes = scope.get("query_string", b"")
        if query and _has_control(query):
            await _answer(send, 400, _query_problems(query))
            return
        if scope["path"] in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        declared, chunked = _framing(scope)
        if declared is not None:
            if declared > self.max_body_bytes:
                await _answer(send, 413, self._too_large())
                return
            # The server reads exactly the declared length as the body: nothing to count.
            await self.app(scope, receive, send)
            return
        if not chunked and scope.get("http_version") in _FRAMED_VERSIONS:
            # HTTP/1.x without Content-Length or Transfer-Encoding has no body at all
            # (most GETs): no counting wrapper around receive and send.
            await self.app(scope, receive, send)
            return
        await self._limited(scope, receive, send)

    def _too_large(self) -> dict[str, str]:
        return {"detail": f"The request body is larger than {self.max_body_bytes} bytes."}

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _answer(send, 413, self._too_large())


def _has_control(value: bytes) -> bool:
    return bool(_CONTROL_RAW.search(value) or _CONTROL_ENCODED.search(value))


def _query_problems(query: bytes) -> dict[str, list[str]]:
    """`{"parameter": ["reason"]}`, like every other 400 about a field."""
    problems: dict[str, list[str]] = {}
    pairs = urllib.parse.parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    for name, value in pairs:
        if _CONTROL_TEXT.search(name) or _CONTROL_TEXT.search(value):
            field = _CONTROL_TEXT.sub("", name) or "non_field_errors"
            problems.setdefault(field, []).append("Control characters are not allowed.")
    return problems or {"non_field_errors": ["Control characters are not allowed."]}


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared Content-Length (None if absent or unreadable) and whether a
    Transfer-Encoding is given, in one pass over the headers."""
    declared: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = None
                chunked = True  # unreadable: count what arrives
        elif name == b"transfer-encoding":
            chunked = True
    if chunked:
        declared = None
    return declared, chunked


async def _answer(send: Send, status: int, body: dict[str, str] | dict[str, list[str]]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
