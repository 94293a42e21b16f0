"""Receives a webhook: verify, handle each event once, and say what happened."""

from __future__ import annotations

import hashlib
import logging
from typing import Literal

from antechamber.errors import TryAgainLater
from antechamber.livekit.models import WebhookEvent
from antechamber.observability.metrics import Metrics
from antechamber.webhooks.handlers import WebhookHandlers
from antechamber.webhooks.processed import Claim, ProcessedEvents, new_claim_token
from antechamber.webhooks.receiver import WebhookVerifier

logger = logging.getLogger(__name__)
Outcome = Literal["handled", "ignored", "duplicate"]


class WebhookService:
    def __init__(
        self,
        verifier: WebhookVerifier,
        processed: ProcessedEvents,
        handlers: WebhookHandlers,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._verifier = verifier
        self._processed = processed
        self._handlers = handlers

    async def receive(self, body: bytes, authorization: str | None) -> Outcome:
        try:
            event = self._verifier.verify(body, authorization)
        except Exception:
            self._count("unknown", "rejected")
            raise
        try:
            outcome = await self._receive(event, body)
        except TryAgainLater:
            self._count(event.event, "retry_later")
            raise
        except Exception:
            self._count(event.event, "failed")
            raise
        self._count(event.event, outcome)
        return outcome

    def _count(self, event_type: str, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.webhooks.labels(event_type or "unknown", outcome).inc()

    async def _receive(self, event: WebhookEvent, body: bytes) -> Outcome:
        # LiveKit gives every event an id; the body's hash stands in should one lack it.
        event_id = event.id or "sha256:" + hashlib.sha256(body).hexdigest()
        token = new_claim_token()
        claim = await self._processed.claim(event_id, token)
        if claim is Claim.DONE:
            return "duplicate"
        if claim is Claim.BUSY:
            # Not 200: if the delivery being handled fails, this one must be retried.
            raise TryAgainLater("This event is being handled; retry shortly.")
        try:
            handled = await self._handlers.handle(event)
        except Exception as exc:
            logger.exception("webhook %s (%s) failed; LiveKit will retry", event.event, event_id)
            await self._release(event_id, token)
            raise TryAgainLater("The event could not be handled now; retry later.") from exc
        await self._processed.finish(event_id)
        return "handled" if handled else "ignored"

    async def _release(self, event_id: str, token: str) -> None:
        try:
            await self._processed.release(event_id, token)
        except Exception:  # noqa: BLE001 - the claim expires by itself anyway
            logger.warning("could not release the claim on webhook %s", event_id)
