"""A participant's colour: a pure function of its identity.

hashlib (never the built-in `hash`, which is salted per process by PYTHONHASHSEED, and
never the global `random` state), so every process on every host agrees.
"""

from __future__ import annotations

import functools
import hashlib

HUE_RANGE = 360
SATURATION_MIN, SATURATION_MAX = 50, 75
LIGHTNESS_MIN, LIGHTNESS_MAX = 25, 60


@functools.lru_cache(maxsize=65_536)  # pure, and asked again on every poll and list
def colour_for(identity: str) -> str:
    digest = hashlib.sha256(identity.encode("utf-8")).digest()
    hue = int.from_bytes(digest[0:4], "big") % HUE_RANGE
    saturation = SATURATION_MIN + digest[4] % (SATURATION_MAX - SATURATION_MIN + 1)
    lightness = LIGHTNESS_MIN + digest[5] % (LIGHTNESS_MAX - LIGHTNESS_MIN + 1)
    return f"hsl({hue}, {saturation}%, {lightness}%)"
