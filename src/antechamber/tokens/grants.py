"""What a LiveKit token grants: pure functions of the participant's role and the room.

Least privilege: only owners and administrators are room admins; everyone else publishes
only the sources the room's configuration lists. `hidden`, `recorder`, `agent`,
`roomCreate`, `roomList`, `roomRecord`, `ingressAdmin` and `canUpdateOwnMetadata` are
never set (left out of the JWT, which LiveKit reads as false).

`Grants` holds the `video` claim's fields the service sets, under the LiveKit SDK's
names (`livekit.api.VideoGrants`) and in its order, and `video_claim` writes them as the
SDK's `Claims.asdict` does (camelCase, unset fields left out). The SDK itself isn't
imported: serving a token needs none of it (its import, with aiohttp and every protobuf
module, costs each worker ~15 MiB). Tests check the claims against the SDK's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from antechamber.rooms.models import Role
from antechamber.rooms.schemas import ALL_SOURCES


@dataclass(frozen=True)
class Grants:
    # The SDK's field order (its JSON claim keeps it).
    room_admin: bool | None
    room_join: bool
    room: str
    can_publish: bool
    can_subscribe: bool
    can_publish_data: bool
    can_publish_sources: tuple[str, ...]


# Field -> JWT claim name, in the SDK's order.
_CLAIM_NAMES = (
    ("room_admin", "roomAdmin"),
    ("room_join", "roomJoin"),
    ("room", "room"),
    ("can_publish", "canPublish"),
    ("can_subscribe", "canSubscribe"),
    ("can_publish_data", "canPublishData"),
    ("can_publish_sources", "canPublishSources"),
)


def video_claim(grants: Grants) -> dict[str, Any]:
    """The token's `video` claim, as the SDK writes it: None and "" left out."""
    claim: dict[str, Any] = {}
    for field, name in _CLAIM_NAMES:
        value = getattr(grants, field)
        if value is None or value == "":
            continue
        claim[name] = list(value) if isinstance(value, tuple) else value
    return claim


def grants_for(room_name: str, role: Role | None, can_publish_sources: Sequence[str]) -> Grants:
    sources: tuple[str, ...]
    if role is not None and role.is_admin:
        sources = tuple(ALL_SOURCES)
        admin = True
    else:
        sources = tuple(source for source in ALL_SOURCES if source in can_publish_sources)
        admin = None
    return Grants(
        room_admin=admin,
        room_join=True,
        room=room_name,
        can_publish=bool(sources),
        can_subscribe=True,
        can_publish_data=True,
        can_publish_sources=sources,
    )
