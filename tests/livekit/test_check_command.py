"""`antechamber check` reaches LiveKit through the gateway and says when it can't."""

from __future__ import annotations

import pytest

from antechamber.checks import run_checks
from antechamber.settings import LiveKitSettings
from tests.conftest import LIVEKIT_KEY, LIVEKIT_SECRET, make_settings
from tests.livekit.conftest import Live
from tests.servers import free_port


async def test_it_reaches_the_live_server(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_checks(live.settings) == 0
    assert "ok   livekit" in capsys.readouterr().out


async def test_it_says_livekit_is_unavailable_when_nothing_answers(
    live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(
        live.backend,
        livekit=LiveKitSettings(
            url=f"ws://127.0.0.1:{free_port()}",
            api_key=LIVEKIT_KEY,
            api_secret=LIVEKIT_SECRET,
            timeout_s=1,
        ),
    )
    assert await run_checks(settings) == 1
    assert "FAIL livekit: UpstreamUnavailable: LiveKit is unavailable" in capsys.readouterr().err
