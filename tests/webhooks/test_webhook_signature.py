"""Only LiveKit's own signed webhooks are accepted; anything else is 401 and changes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.conftest import Browser, Stack
from tests.webhooks.signing import WEBHOOK, event_body, signature, signed


def _finished(calls: list[str], stack: Stack) -> None:
    class Recorder:
        async def clear_room(self, room: str) -> None:
            calls.append(room)

    stack.app.state.services.room_finished_listeners.append(Recorder())


async def test_it_accepts_a_webhook_signed_by_livekits_key(
    stack: Stack, anonymous: Browser
) -> None:
    calls: list[str] = []
    _finished(calls, stack)
    body = event_body("room_finished", "standup")
    response = await anonymous.post(WEBHOOK, content=body, headers=signed(body))
    assert response.status_code == 200, response.text
    assert calls == ["standup"]


async def test_it_refuses_what_livekit_did_not_sign(stack: Stack, anonymous: Browser) -> None:
    calls: list[str] = []
    _finished(calls, stack)
    body = event_body("room_finished", "standup")
    forged = event_body("room_finished", "another-room")
    cases: dict[str, tuple[bytes, dict[str, str]]] = {
        "no header": (body, {}),
        "empty header": (body, {"Authorization": ""}),
        "not a JWT": (body, {"Authorization": "hello"}),
        "forged body": (forged, {"Authorization": signature(body)}),
        "wrong secret": (body, {"Authorization": signature(body, secret="x" * 40)}),
        "other key": (body, {"Authorization": signature(body, key="someone-else")}),
        "expired": (body, {"Authorization": signature(body, ttl=timedelta(minutes=-5))}),
        "bearer prefix": (body, {"Authorization": "Bearer " + signature(body)}),
        "not UTF-8": (b"\xff\xfe" + body, {"Authorization": signature(b"\xff\xfe" + body)}),
    }
    for name, (content, headers) in cases.items():
        response = await anonymous.post(WEBHOOK, content=content, headers=headers)
        assert response.status_code == 401, (name, response.text)
        assert response.json()["detail"], name
        assert "eyJ" not in response.text, name  # the token is never echoed
    assert calls == []


async def test_it_says_why_a_signed_body_is_not_an_event(anonymous: Browser) -> None:
    body = b'{"event": 12, "room": "not an object"}'
    response = await anonymous.post(WEBHOOK, content=body, headers=signed(body))
    assert response.status_code == 400
    assert response.json() == {
        "body": ["The webhook's body is not a LiveKit event: event is not a string."]
    }


async def test_it_refuses_a_body_too_large_for_an_event(anonymous: Browser) -> None:
    body = b" " * (1 << 20) + event_body("room_finished", str(uuid.uuid4()))
    response = await anonymous.post(WEBHOOK, content=body, headers=signed(body))
    assert response.status_code == 400
    assert "too large" in response.json()["body"][0]
