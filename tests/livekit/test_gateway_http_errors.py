"""What a client sees when a request's LiveKit call fails: the documented status and a
reason, within the time-out; never a 500 or a hang."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI

from antechamber.container import Services
from antechamber.settings import LiveKitSettings
from tests.conftest import LIVEKIT_KEY, LIVEKIT_SECRET, Stack
from tests.livekit.twirp_double import Fault, TwirpDouble, twirp_double

TIMEOUT_S = 0.5
PROBE = "/api/v1.0/probe-livekit/"


@pytest.fixture
async def double() -> AsyncIterator[TwirpDouble]:
    async with twirp_double() as double:
        yield double


@pytest.fixture
def settings_overrides(double: TwirpDouble) -> dict[str, Any]:
    return {
        "livekit": LiveKitSettings(
            url=double.url.replace("http://", "ws://"),
            api_key=LIVEKIT_KEY,
            api_secret=LIVEKIT_SECRET,
            timeout_s=TIMEOUT_S,
        )
    }


def _add_probe(app: FastAPI) -> None:
    """A route that only makes a gateway call, as the lobby and moderation routes do."""

    async def probe() -> dict[str, str]:
        services: Services = app.state.services
        participant = await services.livekit.get_participant("room", "alice")
        return {"identity": participant.identity}

    app.add_api_route(PROBE, probe, methods=["GET"])


@pytest.mark.parametrize(
    ("fault", "status", "reason"),
    [
        (Fault(status=500, code="internal"), 502, "LiveKit answered with an error"),
        (Fault(delay_s=30), 503, "LiveKit is unavailable"),
        (Fault(status=404, code="not_found"), 404, "LiveKit has no such participant"),
    ],
)
async def test_it_answers_the_documented_status_with_a_reason(
    fault: Fault, status: int, reason: str, double: TwirpDouble, stack: Stack
) -> None:
    _add_probe(stack.app)
    async with stack.browser() as client:
        assert (await client.get(PROBE)).json() == {"identity": "alice"}
        double.fault = fault
        started = time.monotonic()
        response = await client.get(PROBE)
    assert time.monotonic() - started < TIMEOUT_S + 1.5
    assert response.status_code == status
    assert reason in response.json()["detail"]
