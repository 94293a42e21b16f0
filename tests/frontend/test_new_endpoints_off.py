"""The added calls when their feature is off or their dependency is down."""

from __future__ import annotations

import pytest

from antechamber.settings import EmailSettings
from tests.conftest import Browser
from tests.helpers import API, ROOMS, create_room
from tests.servers import free_port


@pytest.mark.parametrize("settings_overrides", [{}])
async def test_it_answers_404_to_connection_tests_when_off(anonymous: Browser) -> None:
    answer = await anonymous.post(API + "diagnostics/connection/")
    config = (await anonymous.get(API + "config/")).json()

    assert answer.status_code == 404
    assert config["diagnostics"] == {"connection_test_enabled": False}


@pytest.mark.parametrize(
    "settings_overrides",
    [{"email": EmailSettings(host="127.0.0.1", port=free_port(), timeout_s=2)}],
)
async def test_it_answers_503_when_the_mail_server_is_down(alice: Browser) -> None:
    room = await create_room(alice, "No mail")

    answer = await alice.post(f"{ROOMS}{room['id']}/invite/", json={"emails": ["b@example.com"]})

    assert answer.status_code == 503
    assert "mail server" in answer.json()["detail"]


@pytest.mark.parametrize("settings_overrides", [{}])
async def test_it_answers_404_when_email_is_not_configured(alice: Browser) -> None:
    room = await create_room(alice, "No SMTP")

    answer = await alice.post(f"{ROOMS}{room['id']}/invite/", json={"emails": ["b@example.com"]})

    assert answer.status_code == 404
    assert "not configured" in answer.json()["detail"]
