"""The real LiveKit server fixtures, shared with the LiveKit tests."""

from tests.livekit.conftest import gateway, live

__all__ = ["gateway", "live"]
