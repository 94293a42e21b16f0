"""What every request must satisfy at the edge: a bounded body, no control characters in
anything a client sends, and the small holes around login cookies and origins."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from antechamber.moderation import audit
from antechamber.moderation.audit import Act, Actor
from antechamber.moderation.models import AuditRecord
from antechamber.settings import LiveKitSettings
from tests.conftest import LIVEKIT_KEY, LIVEKIT_SECRET, Browser, Stack
from tests.helpers import API, ROOMS, create_room
from tests.servers import free_port

LIMIT = 4096


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "max_body_bytes": LIMIT,
        # Nothing listens there: a refused body must be refused before LiveKit matters.
        "livekit": LiveKitSettings(
            url=f"ws://127.0.0.1:{free_port()}",
            api_key=LIVEKIT_KEY,
            api_secret=LIVEKIT_SECRET,
            timeout_s=0.5,
        ),
    }


async def test_it_refuses_a_declared_body_over_the_limit_with_413(alice: Browser) -> None:
    response = await alice.post(ROOMS, json={"name": "x" * (2 * LIMIT)})
    assert response.status_code == 413, response.text
    assert str(LIMIT) in response.json()["detail"]
    rooms = await alice.get(ROOMS)
    assert rooms.json()["count"] == 0


async def test_it_cuts_a_streamed_body_off_at_the_limit_with_413(alice: Browser) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(4):
            yield b"y" * 2048
        yield b'"}'

    response = await alice.post(
        ROOMS, content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert (await alice.get(ROOMS)).json()["count"] == 0


async def test_it_accepts_a_body_under_the_limit(alice: Browser) -> None:
    response = await alice.post(ROOMS, json={"name": "n" * 100})
    assert response.status_code == 201, response.text


MODERATION_BODIES = [
    ("mute-participant", {"participant_identity": "bob\x00", "track_sid": "TR_x"}),
    ("update-participant-role", {"participant_identity": "bob\x00", "role": "member"}),
    ("remove-participant", {"participant_identity": "\x00"}),
    ("send-to-lobby", {"participant_identity": "b\x00b"}),
    ("update-participant", {"participant_identity": "bob\x00", "name": "Bob"}),
    ("update-participant", {"participant_identity": "bob\x1b[31m", "name": "Bob"}),
]


@pytest.mark.parametrize(("action", "body"), MODERATION_BODIES)
async def test_it_refuses_control_characters_in_an_identity_with_400(
    alice: Browser, action: str, body: dict[str, Any]
) -> None:
    room = await create_room(alice, "Controls")
    response = await alice.post(f"{ROOMS}{room['id']}/{action}/", json=body)
    assert response.status_code == 400, response.text
    assert list(response.json()) == ["participant_identity"]


@pytest.mark.parametrize(
    "attributes", [{"handRaisedAt\x00": ""}, {"handRaisedAt": "\x00"}, {"a": "line\nbreak"}]
)
async def test_it_refuses_control_characters_in_attribute_keys_and_values(
    alice: Browser, attributes: dict[str, str]
) -> None:
    room = await create_room(alice, "Attributes")
    response = await alice.post(
        f"{ROOMS}{room['id']}/update-participant/",
        json={"participant_identity": "bob", "attributes": attributes},
    )
    assert response.status_code == 400, response.text
    assert [key.split(".")[0] for key in response.json()] == ["attributes"]


@pytest.mark.parametrize("query", ["username=a%00b", "username=%1b", "page=1&username=x%7F"])
async def test_it_refuses_control_characters_in_a_query_naming_the_parameter(
    alice: Browser, anonymous: Browser, query: str
) -> None:
    room = await create_room(alice, "Query")
    response = await anonymous.get(f"{ROOMS}{room['slug']}/?{query}")
    assert response.status_code == 400, response.text
    assert response.json() == {"username": ["Control characters are not allowed."]}


async def test_the_audit_record_of_an_attempt_is_written_whatever_it_holds(
    stack: Stack, alice: Browser
) -> None:
    room = await create_room(alice, "Audit")
    act = Act(Actor(None, "eve\x00"), "remove", "bob\x00\x01", {"note\x00": ["x\x00"]})
    await audit.write(stack.app.state.services.sessionmaker, uuid.UUID(room["id"]), act, "ok")
    async with stack.app.state.services.sessionmaker() as db:
        record = (await db.execute(select(AuditRecord))).scalar_one()
    assert "\x00" not in record.actor_identity + record.target_identity
    assert record.target_identity.startswith("bob")
    assert record.detail == {"note ": ["x "]}


async def test_it_refuses_a_cross_site_logout(alice: Browser) -> None:
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.test"}):
        response = await alice.get(API + "logout/", headers=headers)
        assert response.status_code == 403, (headers, response.text)
        assert (await alice.get(API + "users/me/")).status_code == 200


async def test_it_logs_out_from_its_own_pages(alice: Browser) -> None:
    response = await alice.get(API + "logout/", headers={"Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 302, response.text
    assert (await alice.get(API + "users/me/")).status_code == 401


async def test_a_null_origin_fails_the_csrf_check(alice: Browser) -> None:
    response = await alice.post(ROOMS, json={"name": "Sandboxed"}, headers={"Origin": "null"})
    assert response.status_code == 403, response.text
    assert "origin" in response.json()["detail"]
