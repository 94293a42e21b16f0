"""The LiveKit SDK's `livekit.api`, imported when a process first needs it.

`livekit.api` imports aiohttp, every protobuf module of `livekit.protocol` and PyJWT:
~15 MiB of a worker's RSS that the hot paths (tokens are minted without it) never use.
Whatever needs it (the gateway's first call to LiveKit, a webhook's signature check,
moderation's check of a participant's token, the connection test's token) calls
`load_sdk()` before `from livekit import api`, so the import happens with PyJWT's unused
`cryptography` backend kept out (`antechamber.keptout`), at whatever moment it comes.
The protobuf messages alone (`livekit.protocol`, no PyJWT) may be imported directly.
"""

from __future__ import annotations

import sys

from antechamber.keptout import PYJWT_NATIVE, kept_out


def load_sdk() -> None:
    """Imports `livekit.api` if this process hasn't yet."""
    if "livekit.api" in sys.modules:
        return
    with kept_out(PYJWT_NATIVE):
        import livekit.api  # noqa: F401
