"""Decoding tokens with the official SDK's verifier, as LiveKit itself would."""

from __future__ import annotations

from livekit.api import TokenVerifier
from livekit.api.access_token import Claims

from tests.conftest import LIVEKIT_KEY, LIVEKIT_SECRET


def verify(token: str) -> Claims:
    return TokenVerifier(LIVEKIT_KEY, LIVEKIT_SECRET).verify(token)
