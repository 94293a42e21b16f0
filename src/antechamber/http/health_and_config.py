"""Liveness, readiness and the front end's configuration."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from antechamber.db.session import ping
from antechamber.http.deps import AppSettings, Engine, Oidc, Redis, ServerShutdown

logger = logging.getLogger(__name__)
READY_TIMEOUT_S = 2.0

health = APIRouter(tags=["service"])
api = APIRouter(tags=["service"])


@health.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@health.get("/readyz", responses={503: {"description": "a dependency does not answer"}})
async def readyz(shutdown: ServerShutdown, engine: Engine, redis: Redis) -> JSONResponse:
    if shutdown.draining:
        return JSONResponse({"status": "stopping", "failed": []}, status_code=503)
    checks: dict[str, Any] = {"database": ping(engine)}
    if redis is not None:
        checks["redis"] = redis.ping()
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


# La Suite Meet's backend serves these for its background uploads; served as it does
# (uploads are off here) so the front end reads the numbers it expects.
_BACKGROUND_IMAGE_LIMITS = {
    "max_size": 2 * 1024 * 1024,
    "max_count_by_user": 10,
    "allowed_extensions": [".jpeg", ".jpg", ".png"],
    "allowed_mimetypes": ["image/jpeg", "image/png"],
}


@api.get("/config/")
async def config(settings: AppSettings, oidc: Oidc) -> dict[str, Any]:
    front = settings.frontend
    login_methods = [m for m, on in (("oidc", oidc), ("dev", settings.dev_login_enabled)) if on]
    return {
        "LANGUAGE_CODE": front.language_code,
        "livekit": {
            "url": settings.livekit.url,
            "force_wss_protocol": settings.livekit.force_wss_protocol,
            "enable_firefox_proxy_workaround": settings.livekit.enable_firefox_proxy_workaround,
            "default_sources": settings.livekit.default_sources,
        },
        "subtitle": {"enabled": False},
        "telephony": {"enabled": False},
        "recording": {
            "is_enabled": False,
            "available_modes": [],
            "expiration_days": None,
            "max_duration": None,
        },
        "background_image": {"upload_is_enabled": False, **_BACKGROUND_IMAGE_LIMITS},
        "diagnostics": {"connection_test_enabled": settings.connection_test.enabled},
        "resource": {"default_access_level": settings.default_access_level},
        "allow_unregistered_rooms": settings.allow_unregistered_rooms,
        "authenticated_users_can_edit_display_name": (
            settings.authenticated_users_can_edit_display_name
        ),
        "custom_css_url": front.custom_css_url,
        "analytics": {},
        "support": {},
        "feedback": {},
        "silence_livekit_debug_logs": front.silence_livekit_debug_logs,
        "is_silent_login_enabled": oidc is not None and front.is_silent_login_enabled,
        "idle_disconnect_warning_delay": front.idle_disconnect_warning_delay,
        "external_home_url": front.external_home_url,
        "use_french_gov_footer": front.use_french_gov_footer,
        "use_proconnect_button": front.use_proconnect_button,
        "manifest_link": front.manifest_link,
        "transcription_destination": None,
        "max_participants_for_sound": front.max_participants_for_sound,
        "auto_mute_on_join_threshold": front.auto_mute_on_join_threshold,
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
