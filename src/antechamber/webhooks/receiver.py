"""Signature check of LiveKit's webhooks, with the official SDK's receiver.

LiveKit signs each POST with a JWT (HS256 with the API secret, issued by the API key)
in the raw `Authorization` header; the JWT carries the body's SHA-256. The body must be
checked exactly as received, so it is read raw, never re-serialised.

The SDK is imported on the first webhook a process receives (antechamber.livekit.sdk).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from antechamber.errors import InvalidInput, NotAuthenticated
from antechamber.livekit.sdk import load_sdk

if TYPE_CHECKING:
    from livekit.api import WebhookReceiver
    from livekit.protocol.webhook import WebhookEvent

logger = logging.getLogger(__name__)


class WebhookVerifier:
    def __init__(self, api_key: str, api_secret: str) -> None:
        self._api_key = api_key
        self._api_secret = api_secret
        self._built: WebhookReceiver | None = None

    @property
    def _receiver(self) -> WebhookReceiver:
        if self._built is None:
            load_sdk()
            from livekit.api import TokenVerifier, WebhookReceiver

            self._built = WebhookReceiver(TokenVerifier(self._api_key, self._api_secret))
        return self._built

    def verify(self, body: bytes, authorization: str | None) -> WebhookEvent:
        """The event, or NotAuthenticated for anything unsigned, forged or stale."""
        if not authorization:
            raise NotAuthenticated("The webhook has no Authorization header.")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotAuthenticated("The webhook's body does not match its signature.") from exc
        receiver = self._receiver
        from google.protobuf.json_format import ParseError  # loaded with the SDK

        try:
            return receiver.receive(text, authorization)
        except ParseError as exc:
            # Signed by our key pair, yet not an event: say so rather than hide it as a 401.
            raise InvalidInput("body", "The webhook's body is not a LiveKit event.") from exc
        except Exception as exc:
            # The reason class only: the header is a credential and stays out of the logs.
            logger.info("webhook refused: %s", type(exc).__name__)
            raise NotAuthenticated("The webhook's signature is invalid or expired.") from exc
