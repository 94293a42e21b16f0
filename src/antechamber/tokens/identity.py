"""Identities of participants who are not logged in.

The lobby cookie holds a random secret. The public id, shown to admins and used as the
LiveKit identity, is a keyed hash of it: knowing someone's public id doesn't give their
cookie, so nobody can take someone else's place in the lobby.
"""

from __future__ import annotations

import hmac
import re
import secrets
import uuid

LOBBY_COOKIE = "lobbyParticipantId"
_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


def new_lobby_secret() -> str:
    return secrets.token_urlsafe(32)


def valid_lobby_secret(value: str | None) -> bool:
    return value is not None and _SECRET_PATTERN.fullmatch(value) is not None


def public_participant_id(secret_key: bytes, lobby_secret: str) -> str:
    # hmac.digest: OpenSSL's one-shot HMAC, the same value as hmac.new(...).digest()
    # without building an HMAC object (every request-entry computes one).
    digest = hmac.digest(secret_key, b"lobby-participant:" + lobby_secret.encode(), "sha256")
    return str(uuid.UUID(bytes=digest[:16], version=4))
