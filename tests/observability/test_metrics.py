"""`/metrics`: private by default, and its counters move with what the service does."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import pytest

from antechamber.presence.store import PresentParticipant
from tests.conftest import Browser, Stack
from tests.helpers import ROOMS, create_room
from tests.webhooks.signing import WEBHOOK, event_body, signed

METRICS_TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"metrics_token": METRICS_TOKEN}


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus' text format (0 when it is absent)."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line)
        if match is None or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(3))
    return 0.0


async def scrape(browser: Browser) -> str:
    response = await browser.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_it_refuses_metrics_without_the_bearer_token(anonymous: Browser) -> None:
    assert (await anonymous.get("/metrics")).status_code == 401
    wrong = await anonymous.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    near = await anonymous.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}x"})
    assert near.status_code == 401
    basic = await anonymous.get("/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"})
    assert basic.status_code == 401
    assert "antechamber_http_requests_total" not in wrong.text


@pytest.mark.parametrize("settings_overrides", [{}])
async def test_it_has_no_metrics_endpoint_without_a_token_configured(anonymous: Browser) -> None:
    response = await anonymous.get("/metrics", headers={"Authorization": "Bearer anything-at-all"})
    assert response.status_code == 404


async def test_it_counts_a_lobby_flow(stack: Stack, alice: Browser, anonymous: Browser) -> None:
    before = await scrape(alice)
    room = await create_room(alice, "Counted", access_level="restricted")
    entry = f"{ROOMS}{room['slug']}/request-entry/"
    route = "/api/v1.0/rooms/{room_key}/request-entry/"
    waiting = (await anonymous.post(entry, json={"username": "Ann"})).json()
    assert waiting["status"] == "waiting"
    await anonymous.post(entry, json={"username": "Ann"})
    listed = await alice.get(f"{ROOMS}{room['id']}/waiting-participants/")
    assert len(listed.json()["participants"]) == 1
    decided = await alice.post(
        f"{ROOMS}{room['id']}/enter/", json={"participant_id": waiting["id"], "allow_entry": True}
    )
    assert decided.status_code == 200
    again = await alice.post(
        f"{ROOMS}{room['id']}/enter/", json={"participant_id": waiting["id"], "allow_entry": False}
    )
    assert again.status_code == 409
    assert (await anonymous.get(f"{ROOMS}no-such-room/")).status_code == 404
    after = await scrape(alice)

    def moved(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    requests = "antechamber_http_requests_total"
    assert moved(requests, method="POST", route=route, status="200") == 2
    assert moved(requests, method="POST", route="/api/v1.0/rooms/{room_key}/enter/") == 1
    assert moved(requests, route="/api/v1.0/rooms/{room_key}/enter/", status="409") == 1
    assert moved(requests, route="/api/v1.0/rooms/{room_key}/", status="404") == 1
    assert moved("antechamber_http_request_duration_seconds_count", route=route) == 2
    assert moved("antechamber_lobby_requests_total", outcome="created") == 1
    assert moved("antechamber_lobby_requests_total", outcome="existing") == 1
    decisions = "antechamber_lobby_decisions_total"
    assert moved(decisions, decision="accepted", outcome="decided") == 1
    assert moved(decisions, decision="denied", outcome="conflict") == 1
    assert moved("antechamber_lobby_waiting_participants_count") >= 1
    assert moved("antechamber_lobby_waiting_participants_sum") >= 1
    # Labels are route templates: no slug, id or participant in them.
    assert room["slug"] not in after
    assert room["id"] not in after
    assert waiting["id"] not in after


async def test_it_counts_webhook_events_by_type_and_outcome(
    stack: Stack, anonymous: Browser
) -> None:
    before = await scrape(anonymous)
    body = event_body("room_finished", "standup", event_id=f"EV_{uuid.uuid4().hex}")
    for _ in range(2):
        response = await anonymous.post(WEBHOOK, content=body, headers=signed(body))
        assert response.status_code == 200
    forged = await anonymous.post(
        WEBHOOK, content=body, headers={"Authorization": "forged", "Content-Type": "x"}
    )
    assert forged.status_code == 401
    after = await scrape(anonymous)

    def moved(**labels: str) -> float:
        name = "antechamber_webhook_events_total"
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert moved(type="room_finished", outcome="handled") == 1
    assert moved(type="room_finished", outcome="duplicate") == 1
    assert moved(type="unknown", outcome="rejected") == 1


async def test_it_counts_livekit_calls_by_method_and_outcome(
    stack: Stack, alice: Browser, anonymous: Browser
) -> None:
    """Nothing listens where LiveKit should be: the background "someone waits" message
    fails, and is counted as such."""
    room = await create_room(alice, "Notified", access_level="restricted")
    # Only a live room is told: someone is in it, as a `participant_joined` webhook says.
    present = PresentParticipant(identity="bob", sid="PA_bob", name="Bob", joined_at=1)
    await stack.app.state.services.presence.joined(room["id"], present)
    before = await scrape(alice)
    entry = f"{ROOMS}{room['slug']}/request-entry/"
    assert (await anonymous.post(entry, json={"username": "Ann"})).json()["status"] == "waiting"
    name = "antechamber_livekit_calls_total"
    for _ in range(100):
        after = await scrape(alice)
        if sample(after, name, method="send_data", outcome="unavailable") > sample(
            before, name, method="send_data", outcome="unavailable"
        ):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the failed LiveKit call was not counted")
    assert sample(after, name, method="send_data", outcome="ok") == 0
