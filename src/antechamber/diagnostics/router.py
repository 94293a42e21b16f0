"""POST /api/v1.0/diagnostics/connection/: the front end's connection test."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from antechamber import ratelimit
from antechamber.http.deps import AppSettings, ClientAddress, Diagnostics, KeyValues
from antechamber.http.openapi import errors

router = APIRouter(tags=["diagnostics"])


class ConnectionTestRoom(BaseModel):
    url: str
    room: str
    token: str
    expires_in: int


class ConnectionTestOut(BaseModel):
    livekit: ConnectionTestRoom


@router.post(
    "/diagnostics/connection/", response_model=ConnectionTestOut, responses=errors(404, 429, 502)
)
async def connection_test(
    client: ClientAddress, settings: AppSettings, kv: KeyValues, diagnostics: Diagnostics
) -> ConnectionTestOut:
    if diagnostics.enabled:
        limit = settings.connection_test.rate_limit_per_minute
        await ratelimit.spend(kv, "connection-test", client, limit, 60)
    test = await diagnostics.start()
    return ConnectionTestOut(
        livekit=ConnectionTestRoom(
            url=test.url, room=test.room, token=test.token, expires_in=test.expires_in
        )
    )
