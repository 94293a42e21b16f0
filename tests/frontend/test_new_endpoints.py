"""The calls of La Suite Meet's front end that Antechamber added: their limits, their
refusals and their failures (the happy paths are in test_call_sites)."""

from __future__ import annotations

from typing import Any

import pytest

from antechamber.livekit.twirp import TwirpLiveKitGateway
from antechamber.settings import ConnectionTestSettings, EmailSettings, LiveKitSettings
from tests.conftest import LIVEKIT_KEY, LIVEKIT_SECRET, Browser
from tests.frontend.conftest import Mailbox
from tests.helpers import API, ROOMS, create_room
from tests.livekit.conftest import Live
from tests.livekit.participants import eventually

SHORT_TTL_S = 5


@pytest.fixture
def settings_overrides(live: Live, mailbox: tuple[Mailbox, int]) -> dict[str, Any]:
    return {
        "livekit": LiveKitSettings(
            url=live.livekit.url, api_key=LIVEKIT_KEY, api_secret=LIVEKIT_SECRET, timeout_s=3
        ),
        "connection_test": ConnectionTestSettings(
            enabled=True, ttl_s=SHORT_TTL_S, rate_limit_per_minute=2
        ),
        "email": EmailSettings(
            host="127.0.0.1", port=mailbox[1], invite_rate_limit_per_hour=2, max_recipients=3
        ),
        "creation_callback_rate_limit_per_minute": 3,
    }


async def test_it_deletes_the_connection_test_room_after_its_lifetime(
    anonymous: Browser, gateway: TwirpLiveKitGateway
) -> None:
    answer = await anonymous.post(API + "diagnostics/connection/")
    assert answer.status_code == 200, answer.text
    room = answer.json()["livekit"]["room"]
    assert [r.name for r in await gateway.list_rooms([room])] == [room]

    async def deleted() -> bool:
        return await gateway.list_rooms([room]) == []

    await eventually(deleted, "the test room is gone after its lifetime")


async def test_it_rate_limits_connection_tests(anonymous: Browser) -> None:
    answers = [await anonymous.post(API + "diagnostics/connection/") for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2].headers["retry-after"]) >= 1


async def test_it_refuses_invitations_from_non_admins(
    alice: Browser, bob: Browser, anonymous: Browser
) -> None:
    room = await create_room(alice, "Private")
    body = {"emails": ["carol@example.com"]}

    assert (await bob.post(f"{ROOMS}{room['id']}/invite/", json=body)).status_code == 403
    assert (await anonymous.post(f"{ROOMS}{room['id']}/invite/", json=body)).status_code == 401
    assert (await alice.post(f"{ROOMS}nope/invite/", json=body)).status_code == 404


@pytest.mark.parametrize(
    "emails", [[], ["not-an-address"], ["a@example.com", "b@example.com", "c@x.org", "d@x.org"]]
)
async def test_it_refuses_bad_recipient_lists(alice: Browser, emails: list[str]) -> None:
    room = await create_room(alice, "Lists")

    answer = await alice.post(f"{ROOMS}{room['id']}/invite/", json={"emails": emails})

    assert answer.status_code == 400, answer.text
    assert next(iter(answer.json())).startswith("emails")


async def test_it_rate_limits_invitations_per_sender(
    alice: Browser, mailbox: tuple[Mailbox, int]
) -> None:
    room = await create_room(alice, "Busy")
    path = f"{ROOMS}{room['id']}/invite/"
    mailbox[0].messages.clear()

    answers = [await alice.post(path, json={"emails": ["bob@example.com"]}) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert "retry-after" in answers[2].headers
    assert len(mailbox[0].messages) == 2


async def test_it_rate_limits_creation_callbacks(anonymous: Browser) -> None:
    answers = [
        await anonymous.post(ROOMS + "creation-callback/", json={"callback_id": "x1"})
        for _ in range(4)
    ]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]


@pytest.mark.parametrize("callback_id", ["", "with space", "x" * 129, None])
async def test_it_refuses_a_bad_callback_id(
    alice: Browser, anonymous: Browser, callback_id: str | None
) -> None:
    fetched = await anonymous.post(ROOMS + "creation-callback/", json={"callback_id": callback_id})
    created = await alice.post(ROOMS, json={"name": "Cb", "callback_id": callback_id})

    assert fetched.status_code == 400
    assert "callback_id" in fetched.json()
    if callback_id is None:
        assert created.status_code == 201  # null: no callback, as if not sent
    else:
        assert created.status_code == 400
