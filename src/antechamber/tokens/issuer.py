"""Who gets which token: identity, name, attributes and grants together, minted."""

from __future__ import annotations

from collections.abc import Sequence

from antechamber.rooms.models import Role
from antechamber.rooms.schemas import LiveKitAccess
from antechamber.settings import Settings
from antechamber.tokens.colour import colour_for
from antechamber.tokens.grants import grants_for
from antechamber.tokens.minting import Participant, RoomPart, TokenMinter

MAX_PREPARED_ROOMS = 10_000


class TokenIssuer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._minter = TokenMinter(
            settings.livekit.api_key,
            settings.livekit.api_secret.get_secret_value(),
            settings.token_ttl_s,
        )
        # What every token of a room and role shares, encoded once (grants are a pure
        # function of these, see grants_for).
        self._rooms: dict[tuple[str, Role | None, tuple[str, ...], int | None], RoomPart] = {}

    def issue(
        self,
        *,
        livekit_room: str,
        identity: str,
        name: str,
        role: Role | None,
        is_authenticated: bool,
        can_publish_sources: Sequence[str],
        max_participants: int | None = None,
    ) -> LiveKitAccess:
        participant = Participant(
            identity=identity,
            name=name,
            colour=colour_for(identity),
            room_role=role.value if role else "",
            is_authenticated=is_authenticated,
        )
        key = (livekit_room, role, tuple(can_publish_sources), max_participants)
        room = self._rooms.get(key)
        if room is None:
            grants = grants_for(livekit_room, role, can_publish_sources)
            room = self._minter.prepare(grants, max_participants)
            if len(self._rooms) >= MAX_PREPARED_ROOMS:
                self._rooms.clear()
            self._rooms[key] = room
        token = self._minter.mint_for(room, participant)
        return LiveKitAccess(url=self._settings.livekit.url, room=livekit_room, token=token)
