"""Signature check of LiveKit's webhooks.

LiveKit signs each POST with a JWT (HS256 with the API secret, issued by the API key)
in the raw `Authorization` header; the JWT's `sha256` claim is the base64 SHA-256 of the
body. The body must be checked exactly as received, so it is read raw, never
re-serialised. The checks are the official SDK's `WebhookReceiver`'s (tests hold them to
it), done with the standard library (`tokens/hs256.py`); the event is read into the
service's own dataclass (`livekit/models.py`), unknown fields ignored as the SDK does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging

from antechamber.errors import InvalidInput, NotAuthenticated
from antechamber.livekit.hs256 import InvalidToken, verify
from antechamber.livekit.models import WebhookEvent

logger = logging.getLogger(__name__)


class WebhookVerifier:
    def __init__(self, api_key: str, api_secret: str) -> None:
        self._api_key = api_key
        self._secret = api_secret.encode()

    def verify(self, body: bytes, authorization: str | None) -> WebhookEvent:
        """The event, or NotAuthenticated for anything unsigned, forged or stale."""
        if not authorization:
            raise NotAuthenticated("The webhook has no Authorization header.")
        try:
            body.decode("utf-8")  # LiveKit signs text: as before, other bytes are no match
        except UnicodeDecodeError as exc:
            raise NotAuthenticated("The webhook's body does not match its signature.") from exc
        try:
            claims = verify(authorization, self._secret, self._api_key)
            signed = claims.get("sha256")
            if not isinstance(signed, str) or not signed:
                raise InvalidToken("no sha256")
            try:
                digest = base64.b64decode(signed)
            except (binascii.Error, ValueError) as exc:
                raise InvalidToken("sha256 is not base64") from exc
            if not hmac.compare_digest(digest, hashlib.sha256(body).digest()):
                raise InvalidToken("the body's hash differs")
        except InvalidToken as exc:
            # The reason only: the header is a credential and stays out of the logs.
            logger.info("webhook refused: %s", exc)
            raise NotAuthenticated("The webhook's signature is invalid or expired.") from exc
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            # Signed by our key pair, yet not an event: say so rather than hide it as a 401.
            raise InvalidInput("body", "The webhook's body is not a LiveKit event.") from exc
        return WebhookEvent.from_json(data)
