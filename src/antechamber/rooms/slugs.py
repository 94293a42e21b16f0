"""Slugs: readable, URL-safe, unique room keys derived from the name."""

from __future__ import annotations

import re
import secrets
import unicodedata

MAX_SLUG = 80
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$")


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = _NOT_SLUG.sub("-", ascii_name.lower()).strip("-")[:MAX_SLUG].strip("-")
    return slug or "room"


def with_suffix(slug: str) -> str:
    """A variant for when `slug` is taken: a short random suffix, still under the limit."""
    return f"{slug[: MAX_SLUG - 7]}-{secrets.token_hex(3)}"


def looks_like_slug(value: str) -> bool:
    return SLUG_PATTERN.fullmatch(value) is not None
