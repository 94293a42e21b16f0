"""The operator's policy (settings): which access levels exist on this deployment, whether
anonymous people may ever join, whether unregistered rooms exist.

A room whose stored level the policy no longer offers behaves as the nearest stricter
level that is offered (public -> trusted -> restricted), else as the default level: a
policy of "no public rooms" holds for rooms created before it.
"""

from __future__ import annotations

from antechamber.auth.caller import Caller
from antechamber.errors import NotAuthenticated
from antechamber.rooms.models import AccessLevel, Role
from antechamber.settings import Settings

STRICTNESS = (AccessLevel.PUBLIC, AccessLevel.TRUSTED, AccessLevel.RESTRICTED)
ANONYMOUS_REFUSED = "This service admits only logged-in participants: log in to join."


def effective_level(settings: Settings, level: AccessLevel) -> AccessLevel:
    if level.value in settings.access_levels:
        return level
    for stricter in STRICTNESS[STRICTNESS.index(level) + 1 :]:
        if stricter.value in settings.access_levels:
            return stricter
    return AccessLevel(settings.default_access_level)


def require_anonymous_allowed(settings: Settings, caller: Caller) -> None:
    if not caller.is_authenticated and not settings.allow_anonymous:
        raise NotAuthenticated(ANONYMOUS_REFUSED)


def may_join(settings: Settings, level: AccessLevel, caller: Caller, role: Role | None) -> bool:
    """Who skips the lobby, under the policy: everyone in public rooms, logged-in users in
    trusted ones, holders of a role in restricted ones."""
    if not caller.is_authenticated and not settings.allow_anonymous:
        return False
    level = effective_level(settings, level)
    if level is AccessLevel.PUBLIC:
        return True
    if level is AccessLevel.TRUSTED:
        return caller.is_authenticated
    return role is not None


def has_lobby(settings: Settings, level: AccessLevel) -> bool:
    return effective_level(settings, level) is not AccessLevel.PUBLIC
