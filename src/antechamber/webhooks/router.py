"""POST /api/v1.0/rooms/webhooks-livekit/: LiveKit's webhooks (raw body, signed)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from antechamber.errors import InvalidInput
from antechamber.http.deps import Webhooks
from antechamber.http.openapi import ErrorBody, errors
from antechamber.webhooks.service import Outcome

router = APIRouter(tags=["webhooks"])
MAX_BODY_BYTES = 1 << 20  # LiveKit's events are a few kilobytes
WEBHOOK_PATH = "/rooms/webhooks-livekit/"


@router.post(
    WEBHOOK_PATH,
    responses={
        **errors(400, 413),
        401: {"description": "unsigned, forged or expired", "model": ErrorBody},
        503: {"description": "not handled now; LiveKit retries", "model": ErrorBody},
    },
)
async def livekit_webhook(request: Request, webhooks: Webhooks) -> dict[str, Outcome]:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise InvalidInput("body", "The webhook's body is too large.")
    outcome = await webhooks.receive(bytes(body), request.headers.get("authorization"))
    return {"status": outcome}
