"""Liveness, readiness and the front end's configuration."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from antechamber.db.session import ping
from antechamber.http.deps import ServicesDep

logger = logging.getLogger(__name__)
READY_TIMEOUT_S = 2.0

health = APIRouter(tags=["service"])
api = APIRouter(tags=["service"])


@health.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@health.get("/readyz", responses={503: {"description": "a dependency does not answer"}})
async def readyz(services: ServicesDep) -> JSONResponse:
    if services.shutdown.draining:
        return JSONResponse({"status": "stopping", "failed": []}, status_code=503)
    checks: dict[str, Any] = {"database": ping(services.engine)}
    if services.redis is not None:
        checks["redis"] = services.redis.ping()
    failed = []
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, READY_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - any failure means not ready
            logger.warning("readiness check failed: %s", name)
            failed.append(name)
    if failed:
        return JSONResponse({"status": "unavailable", "failed": failed}, status_code=503)
    return JSONResponse({"status": "ok"})


@api.get("/config/")
async def config(services: ServicesDep) -> dict[str, Any]:
    settings = services.settings
    login_methods = [
        m for m, on in (("oidc", services.oidc), ("dev", settings.dev_login_enabled)) if on
    ]
    return {
        "livekit": {
            "url": settings.livekit.url,
            "force_wss_protocol": settings.livekit.force_wss_protocol,
            "enable_firefox_proxy_workaround": settings.livekit.enable_firefox_proxy_workaround,
            "default_sources": settings.livekit.default_sources,
        },
        "subtitle": {"enabled": False},
        "telephony": {"enabled": False},
        "recording": {"is_enabled": False, "available_modes": []},
        "background_image": {"upload_is_enabled": False},
        "diagnostics": {"connection_test_enabled": False},
        "resource": {"default_access_level": settings.default_access_level},
        "authenticated_users_can_edit_display_name": (
            settings.authenticated_users_can_edit_display_name
        ),
        "is_silent_login_enabled": services.oidc is not None,
        "max_participants_for_sound": 20,
        "auto_mute_on_join_threshold": 0,
        "lobby": {
            "waiting_timeout_s": settings.lobby.waiting_timeout_s,
            "poll_interval_s": settings.lobby.poll_interval_s,
            "events": True,
        },
        "login_methods": login_methods,
        # The operator's policy (what the API refuses), so the front end offers only it.
        "policy": {
            "access_levels": settings.access_levels,
            "default_access_level": settings.default_access_level,
            "allow_anonymous": settings.allow_anonymous,
            "allow_unregistered_rooms": settings.allow_unregistered_rooms,
        },
    }
