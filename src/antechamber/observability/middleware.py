"""Request id, access log and request metrics, as one pure ASGI middleware.

Pure ASGI (not Starlette's BaseHTTPMiddleware) so event streams pass through untouched.
It sits inside the path-normalising middleware, so after the call the scope names the
route that served the request and its parameters; labels are route templates (bounded,
no ids in them).
"""

from __future__ import annotations

import logging
import os
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from antechamber.observability.logs import ACCESS_LOGGER, REQUEST_ID
from antechamber.observability.metrics import Metrics

REQUEST_ID_HEADER = b"x-request-id"
# A client's id is kept only when it is short and plain, so it can't forge log lines.
_VALID_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
UNMATCHED = "<unmatched>"
# Load balancers' probes would drown the access log; they are still counted.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

access_logger = logging.getLogger(ACCESS_LOGGER)


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER and _VALID_ID.fullmatch(value):
            return str(value.decode("ascii"))
    # 32 random hex digits, as uuid4().hex but without building a UUID per request.
    return os.urandom(16).hex()


def dependency_of(exc: BaseException) -> str | None:
    """Which shared dependency an exception escaping a request came from."""
    module = type(exc).__module__
    if module.startswith("redis"):
        return "redis"
    if module.startswith(("sqlalchemy", "asyncpg")):
        return "postgresql"
    return None


def route_template(scope: Scope) -> str:
    """The path with each path parameter's value replaced by `{name}`: the route's
    template whichever way the framework nests its routers, and a bounded label."""
    if scope.get("route") is None and scope.get("endpoint") is None:
        return UNMATCHED
    path: str = scope.get("path", "")
    for name, value in (scope.get("path_params") or {}).items():
        text = str(value)
        if not text:
            continue
        if "/" in text:
            path = path.replace(text, f"{{{name}}}", 1)
            continue
        path = "/".join(f"{{{name}}}" if part == text else part for part in path.split("/"))
    return path


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, access_log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500  # what the server answers if the app fails before starting a response

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((REQUEST_ID_HEADER, request_id.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException as exc:
            dependency = dependency_of(exc)
            if dependency is not None:
                self.metrics.dependency_error(dependency)
            raise
        finally:
            seconds = time.perf_counter() - started
            template = route_template(scope)
            method = scope.get("method", "")
            self.metrics.request(method, template, status, seconds)
            if (
                self.access_log
                and access_logger.isEnabledFor(logging.INFO)
                and scope.get("path") not in QUIET_PATHS
            ):
                self._log(scope, method, template, status, seconds)
            REQUEST_ID.reset(token)

    @staticmethod
    def _log(scope: Scope, method: str, route: str, status: int, seconds: float) -> None:
        client = scope.get("client")
        address = client[0] if client else "-"
        # The path only, never the query string (OIDC codes, states travel there).
        path = scope.get("path", "")
        duration_ms = round(seconds * 1000, 2)
        access_logger.info(
            '%s "%s %s" %d %.2fms',
            address,
            method,
            path,
            status,
            duration_ms,
            extra={
                "client": address,
                "method": method,
                "path": path,
                "route": route,
                "status": status,
                "duration_ms": duration_ms,
            },
        )
