"""The one place that knows HTTP statuses: domain errors and validation errors -> bodies."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis import exceptions as redis_errors
from sqlalchemy import exc as db_errors
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


# An outage of a dependency is not the client's fault and not a bug: 503, one log line.
OUTAGE_RETRY_AFTER_S = 2
# SQLSTATE classes and codes that mean "the database can't do it now", not "the query is
# wrong": connection exceptions, insufficient resources, operator intervention (shutdown,
# starting up), and the transaction conflicts a retry resolves.
_DB_UNAVAILABLE_CLASSES = ("08", "53", "57")
_DB_RETRY_CODES = ("40001", "40P01")
_REDIS_OUTAGES = (
    redis_errors.ConnectionError,  # refused, reset, closed, still loading its data
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,  # a replica being promoted
    redis_errors.ClusterDownError,
    redis_errors.TryAgainError,
)


def _sqlstate(exc: db_errors.DBAPIError) -> str:
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code is None and orig is not None:
        code = getattr(getattr(orig, "__cause__", None), "sqlstate", None)
    return str(code or "")


# Raised by the PostgreSQL driver itself, unwrapped, when the server goes away while
# SQLAlchemy's dialect sets up a new connection (its connect hook, not a query): named, so
# that processes on SQLite never import the driver.
_DRIVER_CONNECTION_ERRORS = frozenset(
    {
        ("asyncpg.exceptions._base", "InterfaceError"),  # "connection is closed"
        ("asyncpg.exceptions", "ConnectionDoesNotExistError"),
    }
)


def database_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, db_errors.TimeoutError):  # no pooled connection came free in time
        return True
    if (type(exc).__module__, type(exc).__name__) in _DRIVER_CONNECTION_ERRORS:
        return True
    if not isinstance(exc, db_errors.DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, db_errors.InterfaceError):
        return True
    code = _sqlstate(exc)
    return code.startswith(_DB_UNAVAILABLE_CLASSES) or code in _DB_RETRY_CODES


def _unavailable(what: str, exc: Exception) -> JSONResponse:
    # The first line only: SQLAlchemy appends the statement and its parameters after it.
    first_line = next(iter(str(exc).splitlines()), "")
    logger.warning("%s unavailable: %s: %s", what, type(exc).__name__, first_line)
    return JSONResponse(
        {"detail": f"{what.capitalize()} is unavailable right now; try again shortly."},
        status_code=503,
        headers={"Retry-After": str(OUTAGE_RETRY_AFTER_S)},
    )


async def _database_error(_request: Request, exc: Exception) -> JSONResponse:
    if database_unavailable(exc):
        return _unavailable("the database", exc)
    return await _unexpected(_request, exc)


async def _redis_error(request: Request, exc: Exception) -> JSONResponse:
    # Counted here: answered as a 503, it never reaches the metrics middleware as an
    # exception. (Database errors are counted by the engine's own error event.)
    services = getattr(request.app.state, "services", None)
    if services is not None:
        services.metrics.dependency_error("redis")
    return _unavailable("the cache (Redis)", exc)


async def _network_error(_request: Request, exc: Exception) -> JSONResponse:
    # Raw socket errors: a driver failing to connect (asyncpg raises ConnectionRefusedError
    # itself), or a time-out of a dependency.
    return _unavailable("a service this request needs", exc)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    if database_unavailable(exc):
        return _unavailable("the database", exc)
    logger.exception("unhandled error", exc_info=exc)
    return JSONResponse({"detail": "Internal error."}, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(db_errors.DBAPIError, _database_error)
    app.add_exception_handler(db_errors.TimeoutError, _database_error)
    for kind in _REDIS_OUTAGES:
        app.add_exception_handler(kind, _redis_error)
    app.add_exception_handler(OSError, _network_error)
    app.add_exception_handler(Exception, _unexpected)
