"""The ASGI application. Nothing is built at import time: `create_app(settings)` builds
the engine, Redis and the other clients in the lifespan, so tests choose the backends."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send

from antechamber import webclient
from antechamber.auth.router import router as auth_router
from antechamber.container import build_services
from antechamber.diagnostics.router import router as diagnostics_router
from antechamber.http import errors, openapi
from antechamber.http.csrf import CSRF_HEADER, CSRFCookieMiddleware
from antechamber.http.edge import EdgeMiddleware
from antechamber.http.health_and_config import api as service_api
from antechamber.http.health_and_config import health
from antechamber.http.metrics import router as metrics_router
from antechamber.http.paths import API_PREFIX, TrailingSlashMiddleware
from antechamber.http.shutdown import chain_stop_signals
from antechamber.http.unsupported import router as unsupported_router
from antechamber.invitations.router import router as invitations_router
from antechamber.lobby.router import entry_fast_route
from antechamber.lobby.router import hot_router as lobby_hot_router
from antechamber.lobby.router import router as lobby_router
from antechamber.moderation.router import router as moderation_router
from antechamber.observability.logs import configure_logging
from antechamber.observability.metrics import Metrics
from antechamber.observability.middleware import ObservabilityMiddleware
from antechamber.rooms.cache import ROOMS_CHANNEL
from antechamber.rooms.router import hot_router as rooms_hot_router
from antechamber.rooms.router import router as rooms_router
from antechamber.settings import Settings, load_settings
from antechamber.webhooks.router import WEBHOOK_PATH
from antechamber.webhooks.router import router as webhooks_router

logger = logging.getLogger(__name__)
API = API_PREFIX.rstrip("/")
# What the stop leaves for closing connections and clients, out of its time bound.
CLOSE_SHARE = 0.2


def graceful_timeout_s(settings: Settings) -> float:
    """How long the server waits for in-flight requests once it stops accepting."""
    return settings.shutdown_timeout_s * (1 - CLOSE_SHARE)


def create_app(
    settings: Settings, *, freeze_after_start: bool = False, fast_routes: bool = True
) -> FastAPI:
    """`freeze_after_start`: for a served process, which builds one app (a test process
    builds many, and frozen objects are never collected). `fast_routes=False` leaves
    out the routes served below FastAPI (tests compare the answers with and without)."""
    metrics = Metrics(settings.metrics_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start and settings.database.is_sqlite:
            # The embedded default manages its own file; PostgreSQL only via `migrate`.
            # Imported here: Alembic costs memory in every worker that never needs it.
            from antechamber.db.migrate import upgrade_async

            await upgrade_async(settings.database.url)
        services = build_services(settings, metrics)
        app.state.services = services
        # Every process drops its cached copy of a room that any process changed.
        services.broker.listen(ROOMS_CHANNEL, services.room_cache.invalidate)
        services.broker.listen_all(services.lobby.on_event)
        await services.broker.start()
        services.shutdown.on_drain(services.broker.end_subscriptions)
        restore_signals = chain_stop_signals(services.shutdown, settings.shutdown_delay_s)
        services.reconciler.start()
        if freeze_after_start:
            # What start-up built (~150,000 objects: modules, the app, its clients) lives
            # as long as the process. Frozen out of the collector's sight, a full
            # collection no longer walks it: one took ~100 ms under load, a request's
            # worst latency.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            restore_signals()
            services.shutdown.begin()
            try:
                async with asyncio.timeout(settings.shutdown_timeout_s * CLOSE_SHARE):
                    await services.close()
            except TimeoutError:
                logger.warning("closing connections took too long; exiting anyway")

    app = FastAPI(
        title="Antechamber",
        version="1.0",
        summary="Rooms, least-privilege LiveKit tokens, a secure lobby and moderation.",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        redirect_slashes=False,
    )
    errors.install(app)
    openapi.install(app, API)
    # The hot paths first: every poll and meeting link is matched against them only.
    app.include_router(lobby_hot_router, prefix=API)
    app.include_router(rooms_hot_router, prefix=API)
    app.include_router(health)
    app.include_router(metrics_router)
    app.include_router(service_api, prefix=API)
    app.include_router(auth_router, prefix=API)
    app.include_router(diagnostics_router, prefix=API)
    app.include_router(invitations_router, prefix=API)
    # Before the rooms router: its `/rooms/{room_key}/` must not shadow the webhook.
    app.include_router(webhooks_router, prefix=API)
    app.include_router(lobby_router, prefix=API)
    app.include_router(moderation_router, prefix=API)
    app.include_router(rooms_router, prefix=API)
    app.include_router(unsupported_router, prefix=API)
    if fast_routes:
        # Before every other route: the poll of every waiting participant.
        app.router.routes.insert(0, entry_fast_route(API, app.router))
    # The configured front end, or Antechamber's own web client (built or not: a missing
    # build answers a page saying how to get it, never a 500).
    if settings.frontend_dir is not None:
        _serve_frontend(app, settings.frontend_dir, own_client=False)
    else:
        _serve_frontend(app, webclient.default_dist(), own_client=True)

    app.add_middleware(
        EdgeMiddleware,
        max_body_bytes=settings.max_body_bytes,
        exempt_paths=frozenset({f"{API}{WEBHOOK_PATH}"}),
    )
    app.add_middleware(CSRFCookieMiddleware, secure=settings.is_production)
    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["content-type", CSRF_HEADER, "authorization"],
        )
    # Inside the path normaliser, so it sees the route that served the request.
    app.add_middleware(ObservabilityMiddleware, metrics=metrics, access_log=settings.access_log)
    app.add_middleware(TrailingSlashMiddleware)
    return app


NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Antechamber</title></head><body><main><h1>Antechamber's web client is not built</h1>
<p>The API is up at <a href="/api/v1.0/docs">/api/v1.0/docs</a>. To get the client, {how}.</p>
</main></body></html>"""
# Vite names built assets by their content: they never change under the same name.
IMMUTABLE = "public, max-age=31536000, immutable"


def _serve_frontend(app: FastAPI, folder: Path, own_client: bool) -> None:
    """A built single-page front end: its files, and index.html for every other path.

    Served where no route matches (the router's default), so it never shadows a route;
    `/api/` paths and other methods keep the usual 404."""
    root = folder.resolve()
    index = root / "index.html"
    not_found = app.router.default
    if not own_client and not index.is_file():
        logger.warning("ANTECHAMBER_FRONTEND_DIR %s has no index.html: pages answer 404", root)

    async def frontend(scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or path.startswith(API + "/")
        ):
            await not_found(scope, receive, send)
            return
        await _frontend_file(root, index, path.lstrip("/"), own_client)(scope, receive, send)

    app.router.default = frontend


def _frontend_file(root: Path, index: Path, path: str, own_client: bool) -> Response:
    try:
        candidate = (root / path).resolve()
        found = bool(path) and candidate.is_relative_to(root) and candidate.is_file()
    except (OSError, ValueError):  # a name the file system refuses: not a file
        found = False
    if found:
        immutable = candidate.parent.name == "assets"
        return FileResponse(
            candidate, headers={"Cache-Control": IMMUTABLE if immutable else "no-cache"}
        )
    # Checked on every call: the folder may be (re)deployed while the service runs.
    if not index.is_file():
        if not own_client:
            detail = "No such page: the front end folder has no index.html."
            return JSONResponse({"detail": detail}, status_code=404)
        how = webclient.HOW_TO_BUILD.replace("`", "")
        return HTMLResponse(NOT_BUILT.format(how=how), status_code=404)
    return FileResponse(index, headers={"Cache-Control": "no-cache"})


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory`. `antechamber serve` goes through
    `antechamber.worker.app_from_env`, which imports this module lighter."""
    settings = load_settings()
    configure_logging(settings)
    return create_app(settings, freeze_after_start=True)
