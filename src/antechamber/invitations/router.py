"""POST /api/v1.0/rooms/{room}/invite/: room admins invite people by email."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from antechamber import ratelimit
from antechamber.errors import InvalidInput
from antechamber.http.deps import AppSettings, Invitations, KeyValues
from antechamber.http.guards import RoomAdmin
from antechamber.http.openapi import errors
from antechamber.request_body import RequestBody
from antechamber.users.schemas import EmailAddress

router = APIRouter(tags=["rooms"])
# The hard cap of the schema; the configured `max_recipients` is checked below it.
MAX_RECIPIENTS = 500


class Invite(RequestBody):
    emails: list[EmailAddress] = Field(min_length=1, max_length=MAX_RECIPIENTS)


class InviteOut(BaseModel):
    status: Literal["success"] = "success"
    message: str = "invitations sent"


@router.post(
    "/rooms/{room_key}/invite/",
    response_model=InviteOut,
    responses=errors(401, 403, 404, 429),
)
async def invite(
    body: Invite,
    request: Request,
    admin: RoomAdmin,
    app_settings: AppSettings,
    kv: KeyValues,
    invitations: Invitations,
) -> InviteOut:
    room, user = admin.room, admin.user
    settings = app_settings.email
    recipients = sorted({str(email).lower() for email in body.emails})
    if len(recipients) > settings.max_recipients:
        raise InvalidInput("emails", f"Invite at most {settings.max_recipients} at once.")
    await ratelimit.spend(kv, "invite", str(user.id), settings.invite_rate_limit_per_hour, 3600)
    base = (settings.app_base_url or str(request.base_url)).rstrip("/")
    await invitations.invite(
        room_name=room.name,
        link=f"{base}/{room.slug}",
        sender=user.full_name or user.email or "",
        recipients=recipients,
    )
    return InviteOut()
