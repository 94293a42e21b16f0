"""The "someone waits" LiveKit message: only to live rooms, and coalesced per room.

Against the real LiveKit server and the presence the Antechamber server keeps from its
webhooks; a test double only for a LiveKit that is slow or down."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from antechamber.livekit.twirp import TwirpLiveKitGateway
from antechamber.lobby.notify import PARTICIPANT_WAITING, WaitingNotifier
from antechamber.presence.redis_store import RedisPresenceStore
from antechamber.presence.store import MemoryPresenceStore, PresentParticipant
from livekit import rtc
from tests.conftest import LIVEKIT_KEY, LIVEKIT_SECRET
from tests.helpers import ROOMS, create_room
from tests.livekit.conftest import GATEWAY_TIMEOUT_S, Live
from tests.livekit.participants import connected, eventually
from tests.moderation.live import token

BURST = 100


class Counting(TwirpLiveKitGateway):
    """The real gateway, with its SendData calls counted (and a hold inside the call, to
    keep it in flight)."""

    def __init__(self, live: Live) -> None:
        super().__init__(live.livekit.http_url, LIVEKIT_KEY, LIVEKIT_SECRET, GATEWAY_TIMEOUT_S)
        self.calls: list[str] = []
        self.during_call: list[asyncio.Future[None]] = []

    async def send_data(
        self, room: str, payload: bytes, *, destination_identities: Sequence[str] = ()
    ) -> None:
        self.calls.append(room)
        if self.during_call:
            await self.during_call.pop(0)
        await super().send_data(room, payload, destination_identities=destination_identities)


def send_data_calls(live: Live) -> float:
    """SendData calls the Antechamber server under test made, whatever their outcome."""
    total = 0.0
    for metric in live.services.metrics.livekit_calls.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels.get("method") == "send_data":
                total += sample.value
    return total


async def test_it_tells_no_room_nobody_is_in_however_many_arrive(live: Live) -> None:
    async with live.browser() as alice:
        await alice.login("alice@example.com")
        room = await create_room(alice, "Empty lobby room", access_level="restricted")
        before = send_data_calls(live)
        guests = [live.browser() for _ in range(BURST)]
        try:
            answers = await asyncio.gather(
                *(
                    guest.post(f"{ROOMS}{room['id']}/request-entry/", json={"username": "G"})
                    for guest in guests
                )
            )
        finally:
            for guest in guests:
                await guest.aclose()
        assert [a.json()["status"] for a in answers] == ["waiting"] * BURST
        listed = await alice.get(f"{ROOMS}{room['id']}/waiting-participants/")
        assert len(listed.json()["participants"]) == BURST
        # Whatever the arrivals started in the background has ended (a SendData to a room
        # that isn't live would be held by LiveKit for seconds, then counted).
        await live.antechamber.call(live.services.notifier.drain())
        assert send_data_calls(live) == before


async def test_it_tells_a_live_room_once_per_call_in_flight(
    live: Live, presence: RedisPresenceStore
) -> None:
    sender = Counting(live)
    try:
        await tell_a_live_room(live, sender, presence)
    finally:
        await sender.close()


async def tell_a_live_room(live: Live, sender: Counting, presence: RedisPresenceStore) -> None:
    notifier = WaitingNotifier(sender, presence)
    received: list[bytes] = []
    async with live.browser() as alice:
        await alice.login("alice@example.com")
        room = await create_room(alice, "Live lobby room", access_level="restricted")
        room_id = room["id"]
        async with connected(live.livekit.url, await token(alice, room_id)) as client:

            def on_data(packet: rtc.DataPacket) -> None:
                received.append(packet.data)

            client.on("data_received", on_data)

            async def present() -> bool:
                return await presence.count(room_id) == 1

            await eventually(present, "the participant_joined webhook recorded alice")
            # A burst in one go: one call covers it.
            for _ in range(BURST):
                notifier.participant_waiting(room_id)
            await notifier.drain()
            assert sender.calls == [room_id]

            async def delivered(count: int) -> bool:
                return len(received) >= count

            await eventually(lambda: delivered(1), "alice got the message")
            # A burst while a call is in flight: one more call after it, not one each.
            release: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            sender.during_call.append(release)
            notifier.participant_waiting(room_id)
            await asyncio.sleep(0.05)  # the call is in flight, held
            for _ in range(BURST):
                notifier.participant_waiting(room_id)
                await asyncio.sleep(0)
            release.set_result(None)
            await notifier.drain()
            assert sender.calls == [room_id] * 3
            await eventually(lambda: delivered(3), "alice got both later messages")
    assert received == [PARTICIPANT_WAITING] * 3


class SlowLiveKit(TwirpLiveKitGateway):
    """A LiveKit that holds every call until released, then fails (what LiveKit does for a
    room that isn't live, or a LiveKit that is down): the real server can't be made slow.
    Its SendData never reaches the network."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9", "key", "a-secret-never-used-for-anything", 1.0)
        self.calls: dict[str, int] = {}
        self.release = asyncio.Event()

    async def send_data(
        self, room: str, payload: bytes, *, destination_identities: Sequence[str] = ()
    ) -> None:
        self.calls[room] = self.calls.get(room, 0) + 1
        await self.release.wait()
        raise ConnectionError("LiveKit is unavailable")


async def test_it_keeps_at_most_one_call_in_flight_and_one_pending_per_room() -> None:
    slow = SlowLiveKit()
    try:
        await hold_calls(slow)
    finally:
        await slow.close()


async def hold_calls(slow: SlowLiveKit) -> None:
    presence = MemoryPresenceStore()
    for room in ("room-a", "room-b"):  # both live
        await presence.joined(room, PresentParticipant("bob", f"PA_{room}", "Bob", 1))
    notifier = WaitingNotifier(slow, presence)
    for _ in range(BURST):
        for room in ("room-a", "room-b"):
            notifier.participant_waiting(room)
        await asyncio.sleep(0)
    assert slow.calls == {"room-a": 1, "room-b": 1}  # the rest waits as one pending each
    assert len(notifier._tasks) == 2
    slow.release.set()
    await notifier.drain()  # failures are logged, never raised
    assert slow.calls == {"room-a": 2, "room-b": 2}
    assert not notifier._tasks
    notifier.participant_waiting("room-a")  # a later arrival is told again
    await notifier.drain()
    assert slow.calls == {"room-a": 3, "room-b": 2}
