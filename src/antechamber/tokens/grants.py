"""What a LiveKit token grants: pure functions of the participant's role and the room.

Least privilege: only owners and administrators are room admins; everyone else publishes
only the sources the room's configuration lists. `hidden`, `recorder`, `agent`,
`roomCreate`, `roomList`, `roomRecord`, `ingressAdmin` and `canUpdateOwnMetadata` are
never set (left out of the JWT, which LiveKit reads as false).
"""

from __future__ import annotations

from collections.abc import Sequence

from livekit.api import VideoGrants

from antechamber.rooms.models import Role
from antechamber.rooms.schemas import ALL_SOURCES


def grants_for(
    room_name: str, role: Role | None, can_publish_sources: Sequence[str]
) -> VideoGrants:
    sources: list[str]
    if role is not None and role.is_admin:
        sources = list(ALL_SOURCES)
        admin = True
    else:
        sources = [source for source in ALL_SOURCES if source in can_publish_sources]
        admin = None
    return VideoGrants(
        room_join=True,
        room=room_name,
        room_admin=admin,
        can_publish=bool(sources),
        can_publish_sources=sources,
        can_subscribe=True,
        can_publish_data=True,
    )
