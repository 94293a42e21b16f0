"""`participant_joined` of a banned identity, and of anyone when LiveKit can't be told:
the webhook is still answered (200), the banned participant is never listed, and the
room is handed to the reconciliation (which retries the removal)."""

from __future__ import annotations

import logging

import pytest

from antechamber.container import Services
from tests.conftest import Browser, Stack
from tests.webhooks.signing import WEBHOOK, event_body, signed


async def test_a_banned_join_is_not_listed_and_left_to_the_reconciler_when_livekit_is_down(
    stack: Stack, alice: Browser, anonymous: Browser, caplog: pytest.LogCaptureFixture
) -> None:
    services: Services = stack.app.state.services
    created = await alice.post("/api/v1.0/rooms/", json={"name": "Banned"})
    room = created.json()["id"]
    await services.bans.ban(room, "mallory", 600)
    # No LiveKit answers at the configured URL in these tests: removal can't be done now.
    body = event_body("participant_joined", room, identity="mallory", sid="PA_m", joined_at=1)
    with caplog.at_level(logging.WARNING, logger="antechamber.webhooks.handlers"):
        answer = await anonymous.post(WEBHOOK, content=body, headers=signed(body))
    assert (answer.status_code, answer.json()) == (200, {"status": "handled"})
    assert await services.presence.participants(room) == []
    assert "banned identity not removed" in caplog.text
    # The room is among those the reconciler checks closely until the ban ends.
    assert room in await services.bans.rooms_with_bans(100)
    # Someone else joins as usual.
    other = event_body("participant_joined", room, identity="bob", sid="PA_b", joined_at=2)
    assert (await anonymous.post(WEBHOOK, content=other, headers=signed(other))).status_code == 200
    assert [p.identity for p in await services.presence.participants(room)] == ["bob"]
