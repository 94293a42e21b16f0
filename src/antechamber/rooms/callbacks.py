"""The SDK's popup/iframe flow: a room created with a `callback_id` can be fetched once,
unauthenticated, by that id, for a short while (the page that opened the popup polls).

Only what a link needs is kept (id, slug, name, access level): no token, no accesses.
"""

from __future__ import annotations

import json
from typing import Any

from antechamber.auth.sessions import KeyValueStore
from antechamber.rooms.models import Room

CALLBACK_KEY_PREFIX = "room-callback:"


async def remember(kv: KeyValueStore, callback_id: str, room: Room, ttl_s: int) -> None:
    public = {
        "id": str(room.id),
        "slug": room.slug,
        "name": room.name,
        "access_level": room.access_level.value,
    }
    await kv.put(CALLBACK_KEY_PREFIX + callback_id, json.dumps(public), ttl_s)


async def take(kv: KeyValueStore, callback_id: str) -> dict[str, Any] | None:
    """The room, the first time it is asked for; None before it exists and after."""
    raw = await kv.pop(CALLBACK_KEY_PREFIX + callback_id)
    if raw is None:
        return None
    room: dict[str, Any] = json.loads(raw)
    return room
