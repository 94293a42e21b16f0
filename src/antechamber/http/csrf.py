"""CSRF protection for cookie-authenticated unsafe requests.

Double submit, as La Suite Meet's front end does it: a non-HttpOnly `csrftoken` cookie,
sent back as the `X-CSRFToken` header (compared in constant time). In addition, an
`Origin` header, when the browser sends one, must be this service's own origin or one of
the allowed origins. Requests without a session cookie carry no ambient authority and
are not checked.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from antechamber.errors import PermissionDenied

CSRF_COOKIE = "csrftoken"
CSRF_HEADER = "x-csrftoken"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def request_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _check_origin(request: Request, allowed_origins: list[str]) -> None:
    # "null" (a sandboxed frame, a data: URL, some redirects) names no origin we trust.
    origin = request.headers.get("origin")
    if origin is not None and origin.rstrip("/") not in (*allowed_origins, request_origin(request)):
        raise PermissionDenied(f"CSRF check failed: origin {origin} is not allowed.")


def refuse_cross_site(request: Request, allowed_origins: list[str]) -> None:
    """For the few state-changing GETs (logout): the browser's own word on where the
    request comes from (`Sec-Fetch-Site`), and its `Origin` when it sends one."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise PermissionDenied("This can't be done from another site.")
    _check_origin(request, allowed_origins)


def verify(request: Request, allowed_origins: list[str]) -> None:
    if request.method in SAFE_METHODS:
        return
    _check_origin(request, allowed_origins)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not header or not hmac.compare_digest(cookie.encode(), header.encode()):
        raise PermissionDenied(
            "CSRF check failed: send the csrftoken cookie's value in the X-CSRFToken header."
        )


class CSRFCookieMiddleware:
    """Gives every client without one a `csrftoken` cookie to echo back."""

    def __init__(self, app: ASGIApp, secure: bool) -> None:
        self.app = app
        attributes = "; Path=/; SameSite=Lax" + ("; Secure" if secure else "")
        self._attributes = attributes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _has_cookie(scope):
            await self.app(scope, receive, send)
            return
        cookie = f"{CSRF_COOKIE}={secrets.token_urlsafe(32)}{self._attributes}".encode()

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


_NEEDLE = CSRF_COOKIE.encode() + b"="


def _has_cookie(scope: Scope) -> bool:
    return any(name == b"cookie" and _NEEDLE in value for name, value in scope["headers"])
