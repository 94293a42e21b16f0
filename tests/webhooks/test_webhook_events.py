"""What each event does, handled once however often LiveKit delivers it."""

from __future__ import annotations

import asyncio

from antechamber.container import Services
from tests.conftest import Browser, Stack
from tests.webhooks.signing import WEBHOOK, event_body, signed


def _services(stack: Stack) -> Services:
    services: Services = stack.app.state.services
    return services


class Listener:
    """Counts `room_finished`; can fail, or wait, when told to."""

    def __init__(self, failures: int = 0) -> None:
        self.calls: list[str] = []
        self.failures = failures
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def clear_room(self, room: str) -> None:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the lobby store is down")
        self.calls.append(room)


async def _deliver(client: Browser, body: bytes) -> tuple[int, object]:
    response = await client.post(WEBHOOK, content=body, headers=signed(body))
    return response.status_code, response.json()


async def _room(alice: Browser) -> str:
    response = await alice.post("/api/v1.0/rooms/", json={"name": "Team"})
    assert response.status_code == 201
    room_id: str = response.json()["id"]
    return room_id


async def test_it_handles_the_same_event_once(stack: Stack, anonymous: Browser) -> None:
    listener = Listener()
    _services(stack).room_finished_listeners.append(listener)
    body = event_body("room_finished", "standup", event_id="EV_twice")
    assert await _deliver(anonymous, body) == (200, {"status": "handled"})
    assert await _deliver(anonymous, body) == (200, {"status": "duplicate"})
    # Same id, re-signed and re-serialised: still the same event.
    again = event_body("room_finished", "standup", event_id="EV_twice")
    assert (await _deliver(anonymous, again))[1] == {"status": "duplicate"}
    assert listener.calls == ["standup"]


async def test_it_answers_503_when_a_handler_fails_and_handles_the_retry(
    stack: Stack, anonymous: Browser
) -> None:
    listener = Listener(failures=1)
    _services(stack).room_finished_listeners.append(listener)
    body = event_body("room_finished", "standup")
    status, answer = await _deliver(anonymous, body)
    assert status == 503
    assert "retry" in str(answer)
    assert listener.calls == []
    assert await _deliver(anonymous, body) == (200, {"status": "handled"})
    assert await _deliver(anonymous, body) == (200, {"status": "duplicate"})
    assert listener.calls == ["standup"]


async def test_it_handles_concurrent_deliveries_of_one_event_once(
    stack: Stack, anonymous: Browser
) -> None:
    listener = Listener()
    listener.gate = asyncio.Event()
    _services(stack).room_finished_listeners.append(listener)
    body = event_body("room_finished", "standup")
    first = asyncio.create_task(_deliver(anonymous, body))
    await asyncio.wait_for(listener.entered.wait(), 5)
    status, _ = await _deliver(anonymous, body)
    assert status == 503  # not 200: should the first fail, this one must come back
    listener.gate.set()
    assert await first == (200, {"status": "handled"})
    assert await _deliver(anonymous, body) == (200, {"status": "duplicate"})
    assert listener.calls == ["standup"]


async def test_it_answers_200_to_unknown_events(stack: Stack, anonymous: Browser) -> None:
    body = event_body("egress_started", "standup")
    assert await _deliver(anonymous, body) == (200, {"status": "ignored"})
    body = event_body("something_new_in_livekit_2030", "standup")
    assert await _deliver(anonymous, body) == (200, {"status": "ignored"})


async def test_it_keeps_the_live_participant_list_of_registered_rooms(
    stack: Stack, alice: Browser, anonymous: Browser
) -> None:
    presence = _services(stack).presence
    room = await _room(alice)
    for identity, sid, at in (("alice", "PA_a1", 10), ("bob", "PA_b1", 20)):
        body = event_body("participant_joined", room, identity=identity, sid=sid, joined_at=at)
        assert await _deliver(anonymous, body) == (200, {"status": "handled"})
    assert [p.identity for p in await presence.participants(room)] == ["alice", "bob"]

    # Bob reconnects: the `left` of his old connection arrives after the new `joined`.
    rejoin = event_body("participant_joined", room, identity="bob", sid="PA_b2", joined_at=30)
    late_left = event_body("participant_left", room, identity="bob", sid="PA_b1")
    await _deliver(anonymous, rejoin)
    await _deliver(anonymous, late_left)
    assert [(p.identity, p.sid) for p in await presence.participants(room)] == [
        ("alice", "PA_a1"),
        ("bob", "PA_b2"),
    ]
    await _deliver(anonymous, event_body("participant_left", room, identity="alice", sid="PA_a1"))
    assert [p.identity for p in await presence.participants(room)] == ["bob"]

    await _deliver(anonymous, event_body("room_finished", room))
    assert await presence.participants(room) == []


async def test_it_ignores_participants_of_rooms_it_does_not_know(
    stack: Stack, anonymous: Browser
) -> None:
    presence = _services(stack).presence
    for room in ("unregistered-slug", "0b7c3b9e-5a43-4c7e-9d55-8e2b3f0f6a11"):
        body = event_body("participant_joined", room, identity="eve", sid="PA_e")
        assert await _deliver(anonymous, body) == (200, {"status": "ignored"})
        assert await presence.participants(room) == []
