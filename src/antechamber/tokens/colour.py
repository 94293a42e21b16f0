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


# Pure, and asked again on every list encoding and token. 1.2 µs uncached, 0.15 µs from
# the cache; each entry costs ~150 B, so the cache is kept small: at 65,536 entries it
# held 9.6 MiB of a worker that had seen that many arrivals (bench/README.md, "Worker
# memory: no SDK at all").
@functools.lru_cache(maxsize=4_096)
def colour_for(identity: str) -> str:
    digest = hashlib.sha256(identity.encode("utf-8")).digest()
    hue = int.from_bytes(digest[0:4], "big") % HUE_RANGE
    saturation = SATURATION_MIN + digest[4] % (SATURATION_MAX - SATURATION_MIN + 1)
    lightness = LIGHTNESS_MIN + digest[5] % (LIGHTNESS_MAX - LIGHTNESS_MIN + 1)
    return f"hsl({hue}, {saturation}%, {lightness}%)"
