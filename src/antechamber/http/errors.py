"""The one place that knows HTTP statuses: domain errors and validation errors -> bodies."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from antechamber import errors

logger = logging.getLogger(__name__)

STATUS: dict[type[errors.DomainError], int] = {
    errors.NotAuthenticated: 401,
    errors.PermissionDenied: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.InvalidInput: 400,
    errors.BadRequest: 400,
    errors.RateLimited: 429,
    errors.NotOffered: 404,
    errors.UpstreamError: 502,
    errors.UpstreamUnavailable: 503,
    errors.TryAgainLater: 503,
}


def status_of(exc: errors.DomainError) -> int:
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.DomainError)
    if isinstance(exc, errors.InvalidInput):
        return JSONResponse({exc.field: [exc.detail]}, status_code=400)
    headers = {}
    if isinstance(exc, errors.RateLimited | errors.TryAgainLater):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, errors.NotAuthenticated):
        headers["WWW-Authenticate"] = "Session"
    return JSONResponse({"detail": exc.detail}, status_code=status_of(exc), headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    body: dict[str, list[str]] = {}
    for error in exc.errors():
        location = [str(part) for part in error.get("loc", ())]
        if error.get("type") == "json_invalid":
            return JSONResponse({"detail": "The body is not valid JSON."}, status_code=400)
        # Drop the leading "body"/"query"/"path" so fields read as the client sent them.
        field = ".".join(location[1:]) or (location[0] if location else "non_field_errors")
        if field == "body" or not field:
            field = "non_field_errors"
        body.setdefault(field, []).append(_message(error))
    return JSONResponse(body, status_code=400)


def _message(error: dict[str, object]) -> str:
    message = str(error.get("msg", "invalid value"))
    if error.get("type") == "extra_forbidden":
        return "Unknown field."
    if error.get("type") == "missing":
        return "This field is required."
    return message


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names the methods of the first route matching the path only; a path
        # served by one route per method (GET and POST /rooms/) supports all of them.
        headers["Allow"] = ", ".join(_methods_of(request))
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _methods_of(request: Request) -> list[str]:
    routes = request.app.routes
    return [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return JSONResponse({"detail": "Internal error."}, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
