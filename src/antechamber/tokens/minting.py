"""Mints the LiveKit access token a participant joins with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from livekit.api import AccessToken, RoomConfiguration, VideoGrants


@dataclass(frozen=True)
class Participant:
    identity: str
    name: str
    colour: str
    room_role: str  # "owner" | "administrator" | "member" | ""
    is_authenticated: bool


class TokenMinter:
    def __init__(self, api_key: str, api_secret: str, ttl_s: int) -> None:
        self._api_key = api_key
        self._api_secret = api_secret
        self._ttl = timedelta(seconds=ttl_s)

    def mint(
        self, participant: Participant, grants: VideoGrants, max_participants: int | None = None
    ) -> str:
        token = AccessToken(self._api_key, self._api_secret)
        if max_participants:
            # LiveKit creates the room with this cap when this participant's join creates it.
            token = token.with_room_config(RoomConfiguration(max_participants=max_participants))
        return (
            token.with_identity(participant.identity)
            .with_name(participant.name)
            .with_ttl(self._ttl)
            .with_grants(grants)
            .with_attributes(
                {
                    "color": participant.colour,
                    "room_role": participant.room_role,
                    "is_authenticated": "true" if participant.is_authenticated else "false",
                }
            )
            .to_jwt()
        )
