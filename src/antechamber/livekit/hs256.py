"""HS256 JSON Web Tokens, the only kind LiveKit uses: signed and checked with the standard
library, so neither the LiveKit SDK nor PyJWT is loaded by a worker (bench/README.md,
"Worker memory").

`verify` accepts what the SDK's `TokenVerifier` accepts, and refuses what it refuses:
an HS256 signature by the API secret (compared in constant time), `iss` equal to the API
key, an `exp` (required), `exp`, `nbf` and `iat` read as PyJWT reads them and checked
with a minute of leeway, no `aud` (none is ever expected), `sub` and `jti` strings. It is
stricter in two ways that only a hand-made token shows: base64url in its canonical
spelling only, and no header extension (`crit`, `b64`). Tests hold it to the SDK's
verifier on the same tokens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any

# What PyJWT (the SDK's encoder) writes: sorted keys, no spaces.
HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=") + b"."
LEEWAY_S = 60  # the SDK's TokenVerifier default


class InvalidToken(Exception):
    """The token is malformed, forged, expired or not for this key. The message names the
    reason (never the token)."""


def b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def sign_payload(payload: bytes, key: bytes) -> str:
    """The token for this already-encoded JSON payload."""
    signing_input = HEADER + b64(payload)
    return (signing_input + b"." + b64(hmac.digest(key, signing_input, hashlib.sha256))).decode()


def sign(claims: dict[str, Any], key: bytes) -> str:
    return sign_payload(json.dumps(claims, separators=(",", ":")).encode(), key)


def _unb64(part: str) -> bytes:
    """base64url without padding, in its one canonical spelling: no "=", "+" or "/",
    no stray bits in the last character (so one token has one string)."""
    try:
        decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("not base64url") from exc
    if b64(decoded) != part.encode():
        raise InvalidToken("not canonical base64url")
    return decoded


def _object(part: str) -> dict[str, Any]:
    try:
        value = json.loads(_unb64(part))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidToken("not JSON") from exc
    if not isinstance(value, dict):
        raise InvalidToken("not a JSON object")
    return value


def _time(claims: dict[str, Any], name: str) -> int | None:
    """A time claim read as PyJWT reads it: `int()` of it (so "123" and 1.5 pass, NaN,
    infinity and lists don't)."""
    if name not in claims:
        return None
    try:
        return int(claims[name])
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidToken(f"{name} is not an integer") from exc


def verify(
    token: str, key: bytes, issuer: str, *, leeway_s: float = LEEWAY_S, now: float | None = None
) -> dict[str, Any]:
    """The token's claims, or InvalidToken."""
    parts = token.split(".")
    if len(parts) != 3 or not token.isascii():
        raise InvalidToken("not a JWT")
    header_part, payload_part, signature_part = parts
    header = _object(header_part)
    if header.get("alg") != "HS256":
        raise InvalidToken("not HS256")
    if "crit" in header or "b64" in header:
        raise InvalidToken("a header extension")
    signature = _unb64(signature_part)
    expected = hmac.digest(key, f"{header_part}.{payload_part}".encode(), hashlib.sha256)
    if not hmac.compare_digest(signature, expected):
        raise InvalidToken("bad signature")
    claims = _object(payload_part)
    now = time.time() if now is None else now
    expires = _time(claims, "exp")
    if expires is None:
        raise InvalidToken("no exp")
    if expires <= now - leeway_s:
        raise InvalidToken("expired")
    not_before = _time(claims, "nbf")
    if not_before is not None and not_before > now + leeway_s:
        raise InvalidToken("not valid yet")
    issued = _time(claims, "iat")
    if issued is not None and issued > now + leeway_s:
        raise InvalidToken("issued in the future")
    if claims.get("aud"):
        raise InvalidToken("has an audience")
    for name in ("sub", "jti"):
        if name in claims and not isinstance(claims[name], str):
            raise InvalidToken(f"{name} is not a string")
    # The API key is no secret (every token names it): a plain comparison.
    if claims.get("iss") != issuer:
        raise InvalidToken("wrong issuer")
    return claims
