"""Keeps a live LiveKit room's metadata in step with its access level and configuration,
so connected clients see a change without reloading."""

from __future__ import annotations

import json
import logging

from antechamber.errors import DomainError
from antechamber.livekit.gateway import LiveKitGateway
from antechamber.rooms.models import Room
from antechamber.rooms.service import configuration_of

logger = logging.getLogger(__name__)


def live_settings(room: Room) -> tuple[str, str]:
    """What the live room's metadata reflects; compared before and after an update."""
    return room.access_level.value, json.dumps(configuration_of(room).model_dump(), sort_keys=True)


def room_metadata(room: Room) -> str:
    return json.dumps(
        {
            "access_level": room.access_level.value,
            "configuration": configuration_of(room).model_dump(),
        }
    )


async def push_metadata(gateway: LiveKitGateway, livekit_room: str, metadata: str) -> None:
    """Best effort, after the change is committed: a room that isn't live, or a LiveKit
    that doesn't answer, must not undo or fail the update itself."""
    try:
        await gateway.update_room_metadata(livekit_room, metadata)
    except DomainError as exc:
        logger.info("room %s metadata not pushed to LiveKit: %s", livekit_room, exc.detail)
