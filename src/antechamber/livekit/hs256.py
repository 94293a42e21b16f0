"""HS256 JSON Web Tokens, the only kind LiveKit uses: signed and checked with the standard
library, so neither the LiveKit SDK nor PyJWT is loaded by a worker (bench/README.md,
"Worker memory").

`verify` accepts what the SDK's `TokenVerifier` accepts, and refuses what it refuses:
an HS256 signature by the API secret, `iss` equal to the API key, an `exp` (required),
`exp` and `nbf` checked with a minute of leeway, and no `aud` (none is ever expected).
Tests hold it to the SDK's verifier on the same tokens.
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
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("not base64url") from exc


def _object(part: str) -> dict[str, Any]:
    try:
        value = json.loads(_unb64(part))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidToken("not JSON") from exc
    if not isinstance(value, dict):
        raise InvalidToken("not a JSON object")
    return value


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"{name} is not a number")
    return float(value)


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
    signature = _unb64(signature_part)
    expected = hmac.digest(key, f"{header_part}.{payload_part}".encode(), hashlib.sha256)
    if not hmac.compare_digest(signature, expected):
        raise InvalidToken("bad signature")
    claims = _object(payload_part)
    now = time.time() if now is None else now
    expires = _number(claims, "exp")
    if expires is None:
        raise InvalidToken("no exp")
    if expires <= now - leeway_s:
        raise InvalidToken("expired")
    not_before = _number(claims, "nbf")
    if not_before is not None and not_before > now + leeway_s:
        raise InvalidToken("not valid yet")
    issued = _number(claims, "iat")
    if issued is not None and issued > now + leeway_s:
        raise InvalidToken("issued in the future")
    if "aud" in claims:
        raise InvalidToken("has an audience")
    if not isinstance(claims.get("iss"), str) or not hmac.compare_digest(
        claims["iss"].encode(), issuer.encode()
    ):
        raise InvalidToken("wrong issuer")
    return claims
