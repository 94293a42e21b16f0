"""Fixed-window rate limits over the shared key-value store (Redis when configured), so
every process counts the same hits."""

from __future__ import annotations

from antechamber.auth.sessions import KeyValueStore
from antechamber.errors import RateLimited

RATE_KEY_PREFIX = "rate:"


async def spend(kv: KeyValueStore, what: str, who: str, limit: int, window_s: int) -> None:
    """Counts one call of `who` to `what`; past `limit` in the window, RateLimited.
    A limit of 0 means no limit."""
    if limit <= 0:
        return
    count, retry_after = await kv.count(f"{RATE_KEY_PREFIX}{what}:{who}", window_s)
    if count > limit:
        raise RateLimited("Too many requests; slow down.", retry_after=retry_after)
