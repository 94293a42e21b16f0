"""May this caller join this room now, as whom, with which grants: decided here only, for
GET room, request-entry and the participant's event stream.

- Who skips the lobby: the operator's policy, the room's access level and the caller's
  role, re-evaluated on every call (never remembered): a room made public admits its
  waiting people on their next poll; a role removed sends its holder to the lobby.
- A ban refuses a token and a lobby place (the place: the lobby's request-entry script
  reads the ban with the place, so a poll is one Redis round trip).
- The participant cap refuses a token to one too many; someone already in the room (a
  reconnection, the same identity) is never refused.
- The display name (chosen, the account's, or the default) and the token's grants, by
  role; a participant admitted from the lobby joins with no role.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from antechamber.auth.caller import Caller
from antechamber.bans import BanStore
from antechamber.errors import PermissionDenied
from antechamber.presence.store import PresenceStore
from antechamber.rooms import capacity, policy
from antechamber.rooms import service as rooms
from antechamber.rooms.cache import RoomSnapshot
from antechamber.rooms.models import Role
from antechamber.rooms.schemas import LiveKitAccess, RoomConfiguration
from antechamber.settings import Settings
from antechamber.tokens.issuer import TokenIssuer
from antechamber.tokens.names import display_name, requested_display_name

REMOVED = "You were removed from this room."


@dataclass(frozen=True)
class Admission:
    """The answer for one caller: their role in the room, the name they join (or wait)
    under, and their token when they join now, without the lobby."""

    role: Role | None
    name: str | None  # None only when nothing was asked and they don't join now
    livekit: LiveKitAccess | None

    @property
    def direct(self) -> bool:
        return self.livekit is not None


class AdmissionService:
    def __init__(
        self, settings: Settings, tokens: TokenIssuer, bans: BanStore, presence: PresenceStore
    ) -> None:
        self._settings = settings
        self._tokens = tokens
        self._bans = bans
        self._presence = presence

    async def admit(
        self,
        db: AsyncSession,
        room: RoomSnapshot,
        caller: Caller,
        username: str | None,
        *,
        asking: bool,
    ) -> Admission:
        """`asking` (request-entry): a lobby place is on offer too, so those who may not
        even wait are refused first (anonymous callers the policy refuses: 401) and the
        name is checked whether or not they wait; the banned who would wait are refused
        by the lobby store, which reads the ban in the same script as the place (403).
        Otherwise (GET room, a stream) only a caller who joins now is checked; the others
        get no token."""
        livekit_room = str(room.id)
        name = None
        if asking:
            policy.require_anonymous_allowed(self._settings, caller)
            name = self.display_name(caller, username)
        role = await rooms.role_of(db, room.id, caller.user)
        if not policy.may_join(self._settings, room.access_level, caller, role):
            return Admission(role, name, None)
        await self.refuse_banned(livekit_room, caller.identity)
        cap = room.configuration.max_participants
        await capacity.require_room_for(self._presence, livekit_room, cap, caller.identity)
        if name is None:
            name = self.display_name(caller, username)
        livekit = self._token(livekit_room, room.configuration, caller.identity, name, role, caller)
        return Admission(role, name, livekit)

    def admit_unregistered(
        self, slug: str, caller: Caller, username: str | None
    ) -> LiveKitAccess | None:
        """An unregistered room is public, has no roles, bans or cap: anyone the policy
        lets join at all gets a token."""
        if not caller.is_authenticated and not self._settings.allow_anonymous:
            return None
        name = self.display_name(caller, username)
        return self._token(slug, RoomConfiguration(), caller.identity, name, None, caller)

    def admit_owner(
        self,
        livekit_room: str,
        configuration: RoomConfiguration,
        caller: Caller,
        username: str | None,
    ) -> LiveKitAccess:
        """The creator of a room joins it at once, as its owner."""
        name = self.display_name(caller, username)
        return self._token(livekit_room, configuration, caller.identity, name, Role.OWNER, caller)

    async def admitted(
        self, room: RoomSnapshot, identity: str, name: str, caller: Caller, *, capped: bool
    ) -> LiveKitAccess:
        """The token of a participant an admin let in from the lobby (with no role).
        `capped`: refused when the room filled since (a poll; a stream hands it out and
        leaves the cap to LiveKit)."""
        livekit_room = str(room.id)
        if capped:
            cap = room.configuration.max_participants
            await capacity.require_room_for(self._presence, livekit_room, cap, identity)
        return self._token(livekit_room, room.configuration, identity, name, None, caller)

    async def free_places(self, room: RoomSnapshot) -> int | None:
        """How many more may enter now; None without a cap."""
        cap = room.configuration.max_participants
        return await capacity.free_places(self._presence, str(room.id), cap)

    async def refuse_banned(self, livekit_room: str, identity: str) -> None:
        if identity and await self._bans.is_banned(livekit_room, identity):
            raise PermissionDenied(REMOVED)

    def display_name(self, caller: Caller, username: str | None) -> str:
        chosen = requested_display_name(username)
        full_name = caller.user.full_name if caller.user else None
        return display_name(self._settings, chosen, full_name, caller.is_authenticated)

    def _token(
        self,
        livekit_room: str,
        configuration: RoomConfiguration,
        identity: str,
        name: str,
        role: Role | None,
        caller: Caller,
    ) -> LiveKitAccess:
        return self._tokens.issue(
            livekit_room=livekit_room,
            identity=identity,
            name=name,
            role=role,
            is_authenticated=caller.is_authenticated,
            can_publish_sources=configuration.can_publish_sources,
            max_participants=configuration.max_participants,
        )
