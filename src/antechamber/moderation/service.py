"""Moderation rules: who may act on a participant of a live room, and what each act does.

LiveKit holds the live state (tracks, permissions, attributes); this service decides who
may change it and keeps what LiveKit can't: bans, lobby places and roles.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from antechamber.bans import BanStore
from antechamber.db.session import after_commit
from antechamber.errors import (
    BadRequest,
    DomainError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from antechamber.livekit.gateway import LiveKitGateway
from antechamber.livekit.hs256 import InvalidToken, verify
from antechamber.livekit.models import ParticipantInfo, ParticipantPermission, TrackSource
from antechamber.lobby.service import LobbyService
from antechamber.moderation.microphones import MicrophoneLocks
from antechamber.pubsub import Broker
from antechamber.rooms import accesses
from antechamber.rooms import service as rooms
from antechamber.rooms.models import Role, Room
from antechamber.settings import Settings
from antechamber.users.models import User

logger = logging.getLogger(__name__)

HAND_RAISED = "handRaisedAt"
# Never granted from this API (see the token rules); can_update_metadata would let a
# participant rewrite its own name and attributes, room_role and is_authenticated included.
FORBIDDEN_PERMISSIONS = ("hidden", "recorder", "agent", "can_update_metadata")
# Set by the service from roles and identities; an admin can't rewrite them.
RESERVED_ATTRIBUTES = ("color", "room_role", "is_authenticated")
# What a reserved attribute may be sent as without changing anything: empty, or a denial.
_NON_GRANTS = {"color": ("",), "room_role": ("",), "is_authenticated": ("", "false")}


@dataclass(frozen=True)
class Participant:
    """A participant proven by its LiveKit token, and present in the room right now."""

    identity: str
    is_authenticated: bool


MUTE_CONCURRENCY = 8


@dataclass(frozen=True)
class MuteAllResult:
    participants: int  # non-admins in the room
    tracks: int  # microphones muted now (others were muted already)


@dataclass(frozen=True)
class PermissionChange:
    can_subscribe: bool | None = None
    can_publish: bool | None = None
    can_publish_data: bool | None = None
    can_publish_sources: list[str] | None = None
    can_subscribe_metrics: bool | None = None
    # The front end sends back the participant's whole set, these included. Accepted
    # when they grant nothing new (false, null, or the participant's current value).
    forbidden: dict[str, bool | None] = field(default_factory=dict)


class ModerationService:
    def __init__(
        self,
        settings: Settings,
        livekit: LiveKitGateway,
        lobby: LobbyService,
        bans: BanStore,
        microphones: MicrophoneLocks,
    ) -> None:
        self._settings = settings
        self._microphones = microphones
        self._livekit = livekit
        self._lobby = lobby
        self._bans = bans

    async def participant(self, room: Room, authorization: str | None) -> Participant:
        """The caller proven by `Authorization: Bearer <its LiveKit token for this room>`."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("Send your LiveKit token as `Authorization: Bearer <token>`.")
        livekit = self._settings.livekit
        try:
            claims = verify(
                token.strip(), livekit.api_secret.get_secret_value().encode(), livekit.api_key
            )
        except InvalidToken as exc:
            raise NotAuthenticated("The LiveKit token is not valid.") from exc
        video, identity = claims.get("video"), claims.get("sub")
        if not isinstance(video, dict) or video.get("room") != str(room.id):
            raise PermissionDenied("This token is not for this room.")
        if not isinstance(identity, str) or not identity:
            raise PermissionDenied("This token is not for this room.")
        try:
            await self._livekit.get_participant(str(room.id), identity)
        except NotFound as exc:
            raise PermissionDenied("You are not in this room.") from exc
        attributes = claims.get("attributes")
        authenticated = isinstance(attributes, dict) and attributes.get("is_authenticated")
        return Participant(identity, authenticated == "true")

    async def muter(
        self, db: AsyncSession, room: Room, user: User | None, authorization: str | None
    ) -> Participant | None:
        """Who may mute others here: the room's owners and administrators (None: no token
        needed), and, when the room lets everyone mute, any participant proven by its
        LiveKit token. Refused with the admin check's own answers otherwise."""
        try:
            await rooms.require_admin(db, room.id, user)
        except (NotAuthenticated, PermissionDenied):
            if not rooms.configuration_of(room).everyone_can_mute:
                raise
            return await self.participant(room, authorization)
        return None

    async def mute_all(self, room: Room, allow_unmute: bool) -> MuteAllResult:
        """Mutes every microphone of everyone but the owners and administrators; without
        `allow_unmute`, also takes the microphone source away from them."""
        livekit_room = str(room.id)
        if not allow_unmute:
            # First, so someone joining meanwhile is caught by the participant_joined rule.
            await self._microphones.lock(livekit_room)
        targets = [
            p for p in await self._livekit.list_participants(livekit_room) if not _is_admin(p)
        ]
        limit = asyncio.Semaphore(MUTE_CONCURRENCY)

        async def one(participant: ParticipantInfo) -> int:
            muted = 0
            async with limit:
                for track in participant.tracks:
                    if track.source == TrackSource.MICROPHONE and not track.muted:
                        with contextlib.suppress(NotFound):  # gone meanwhile
                            await self._livekit.mute_track(
                                livekit_room, participant.identity, track.sid, True
                            )
                            muted += 1
                if not allow_unmute:
                    await self._set_microphone(livekit_room, participant, allowed=False)
            return muted

        counts = await asyncio.gather(*(one(p) for p in targets))
        return MuteAllResult(participants=len(targets), tracks=sum(counts))

    async def allow_unmute(self, room: Room) -> int:
        """Gives the microphone source back to every non-admin, if the room lets them
        publish it; returns how many participants got it back."""
        if "microphone" not in rooms.configuration_of(room).can_publish_sources:
            raise BadRequest("This room doesn't let participants publish a microphone.")
        livekit_room = str(room.id)
        await self._microphones.unlock(livekit_room)
        targets = [
            p for p in await self._livekit.list_participants(livekit_room) if not _is_admin(p)
        ]
        given = await asyncio.gather(
            *(self._set_microphone(livekit_room, p, allowed=True) for p in targets)
        )
        return sum(given)

    async def on_joined(self, livekit_room: str, participant: ParticipantInfo) -> None:
        """A non-admin joining a room whose microphones are off loses its microphone."""
        if not _is_admin(participant) and await self._microphones.is_locked(livekit_room):
            await self._set_microphone(livekit_room, participant, allowed=False)

    async def _set_microphone(
        self, livekit_room: str, participant: ParticipantInfo, *, allowed: bool
    ) -> bool:
        """Adds or removes the microphone source; True when something changed."""
        permission = participant.permission.copy()
        sources: list[TrackSource] = [
            s for s in permission.can_publish_sources if s != TrackSource.MICROPHONE
        ]
        if allowed:
            sources.append(TrackSource.MICROPHONE)
        if sorted(sources) == sorted(permission.can_publish_sources):
            return False
        permission.can_publish_sources = sources
        permission.can_publish = bool(sources)
        with contextlib.suppress(NotFound):
            await self._livekit.update_participant(
                livekit_room, participant.identity, permission=permission
            )
            return True
        return False

    async def mute(self, room: Room, identity: str, track_sid: str) -> None:
        # Checked first: the server leaves a mute of an unknown participant unanswered.
        info = await self._livekit.get_participant(str(room.id), identity)
        if track_sid not in {track.sid for track in info.tracks}:
            raise NotFound("This participant publishes no such track.")
        await self._livekit.mute_track(str(room.id), identity, track_sid, True)

    async def update(
        self,
        room: Room,
        identity: str,
        permission: PermissionChange | None,
        name: str | None,
        attributes: dict[str, str] | None,
    ) -> None:
        livekit_room = str(room.id)
        new_permission = None
        reserved = set(RESERVED_ATTRIBUTES) & (attributes or {}).keys()
        if permission is not None or reserved:
            # LiveKit replaces the whole permission set: read it, change what was given,
            # write it back. The current state also tells an unchanged value from a grant.
            current = await self._livekit.get_participant(livekit_room, identity)
            if attributes is not None:
                attributes = _without_unchanged_reserved(attributes, dict(current.attributes))
            if permission is not None:
                _refuse_forbidden_grants(permission, current.permission)
                new_permission = current.permission.copy()
                _apply(new_permission, permission)
        if new_permission is None and name is None and not attributes:
            return  # everything sent was the participant's current state
        await self._livekit.update_participant(
            livekit_room, identity, permission=new_permission, name=name, attributes=attributes
        )

    async def remove(self, room: Room, identity: str, ban_seconds: int | None) -> None:
        livekit_room = str(room.id)
        await self._livekit.remove_participant(livekit_room, identity)
        await self._lobby.forget_identity(livekit_room, identity)
        if ban_seconds:
            await self._bans.ban(livekit_room, identity, ban_seconds)

    async def change_role(
        self,
        db: AsyncSession,
        broker: Broker,
        room: Room,
        actor: User,
        identity: str,
        role: Role,
    ) -> None:
        if identity == actor.sub:
            raise PermissionDenied("Nobody changes their own role.")
        user = (await db.execute(select(User).where(User.sub == identity))).scalar_one_or_none()
        if user is None:
            raise NotFound("No logged-in user has this identity.")
        if await rooms.role_of(db, room.id, user) is Role.OWNER:
            raise PermissionDenied("An owner can't be demoted.")
        await accesses.set_role_by_user(db, broker, room, user, role)
        # The role is what counts; the live attribute follows it, once it is durable.
        after_commit(db, lambda: self._show_role(str(room.id), identity, role))

    async def _show_role(self, livekit_room: str, identity: str, role: Role) -> None:
        try:
            await self._livekit.update_participant(
                livekit_room, identity, attributes={"room_role": role.value}
            )
        except DomainError as exc:
            logger.info("room_role of %s not updated live: %s", identity, exc.detail)

    async def toggle_hand(self, room: Room, who: Participant, raised: bool) -> None:
        value = datetime.now(UTC).isoformat().replace("+00:00", "Z") if raised else ""
        await self._livekit.update_participant(
            str(room.id), who.identity, attributes={HAND_RAISED: value}
        )

    async def rename(self, room: Room, who: Participant, name: str) -> None:
        if who.is_authenticated and not self._settings.authenticated_users_can_edit_display_name:
            raise PermissionDenied("Logged-in participants keep the name of their account.")
        await self._livekit.update_participant(str(room.id), who.identity, name=name)

    async def end_meeting(self, room: Room) -> None:
        with contextlib.suppress(NotFound):  # not live: there is nothing to close
            await self._livekit.delete_room(str(room.id))
        await self._lobby.clear_room(str(room.id))

    async def send_to_lobby(self, room: Room, identity: str) -> str:
        """Returns the lobby place id the participant now waits under."""
        self._lobby.require_lobby(room.access_level)
        livekit_room = str(room.id)
        info = await self._livekit.get_participant(livekit_room, identity)
        await self._livekit.remove_participant(livekit_room, identity)
        name = info.name or self._settings.default_display_name
        return await self._lobby.send_back(livekit_room, identity, name)


def _refuse_forbidden_grants(change: PermissionChange, current: ParticipantPermission) -> None:
    granted = sorted(
        name for name, value in change.forbidden.items() if value and not getattr(current, name)
    )
    if granted:
        raise InvalidInput(
            "permission", f"{', '.join(granted)} can't be granted or changed through this API."
        )


def _without_unchanged_reserved(sent: dict[str, str], current: dict[str, str]) -> dict[str, str]:
    """The attributes to write: reserved ones sent unchanged or as a non-grant are
    dropped; any other value for them is refused."""
    changed = sorted(
        key
        for key in set(RESERVED_ATTRIBUTES) & sent.keys()
        if sent[key] != current.get(key, "") and sent[key] not in _NON_GRANTS[key]
    )
    if changed:
        raise InvalidInput(
            "attributes",
            f"Reserved attributes can't be changed through this API: {', '.join(changed)}.",
        )
    return {key: value for key, value in sent.items() if key not in RESERVED_ATTRIBUTES}


def _is_admin(participant: ParticipantInfo) -> bool:
    # Set from the role at join and kept live on role changes; participants can't set
    # their own attributes (no canUpdateOwnMetadata), and this API refuses to.
    return participant.attributes.get("room_role") in (Role.OWNER.value, Role.ADMINISTRATOR.value)


def _apply(permission: ParticipantPermission, change: PermissionChange) -> None:
    for name in ("can_subscribe", "can_publish", "can_publish_data", "can_subscribe_metrics"):
        value = getattr(change, name)
        if value is not None:
            setattr(permission, name, value)
    if change.can_publish_sources is not None:
        permission.can_publish_sources = [
            TrackSource[source.upper()] for source in change.can_publish_sources
        ]
