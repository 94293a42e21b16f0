"""The participant list converges to what LiveKit reports, whatever the webhooks do:
lost, delivered twice, or out of order (the real server's own signed webhooks, held back
by the test and delivered by it, and webhooks the test signs itself)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from antechamber.livekit.twirp import TwirpLiveKitGateway
from antechamber.presence.reconciler import Outcome
from antechamber.presence.store import PresentParticipant
from tests.helpers import create_room
from tests.http_server import HttpBrowser
from tests.livekit.conftest import Delivery, Live
from tests.livekit.participants import connected, eventually
from tests.moderation.live import ROOMS, token
from tests.webhooks.signing import WEBHOOK, event_body, signed


@asynccontextmanager
async def webhooks_lost(live: Live) -> AsyncIterator[list[Delivery]]:
    """Webhooks LiveKit sends meanwhile are kept from the service (and given to the test)."""
    live.gate.dropping = True
    first = len(live.gate.seen)
    held: list[Delivery] = []
    try:
        yield held
    finally:
        live.gate.dropping = False
        held.extend(live.gate.seen[first:])


def _of_room(deliveries: list[Delivery], room_id: str) -> list[Delivery]:
    return [d for d in deliveries if json.loads(d.body).get("room", {}).get("name") == room_id]


async def _listed(alice: HttpBrowser, room_id: str) -> Any:
    answer = await alice.get(f"{ROOMS}{room_id}/participants/")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["count"] == len(body["participants"]) >= 0
    return body


async def _identities(alice: HttpBrowser, room_id: str) -> set[str]:
    return {p["identity"] for p in (await _listed(alice, room_id))["participants"]}


async def _livekit_view(gateway: TwirpLiveKitGateway, room_id: str) -> set[tuple[str, str]]:
    return {(p.identity, p.sid) for p in await gateway.list_participants(room_id)}


async def _service_view(alice: HttpBrowser, room_id: str) -> set[tuple[str, str]]:
    return {(p["identity"], p["sid"]) for p in (await _listed(alice, room_id))["participants"]}


async def _reconcile(live: Live, room_id: str) -> Outcome:
    outcome = await live.antechamber.call(live.services.reconciler.reconcile_room(room_id))
    assert outcome is not None
    return outcome


async def _deliver(browser: HttpBrowser, delivery: Delivery) -> str:
    answer = await browser.post(
        WEBHOOK, content=delivery.body, headers={"Authorization": delivery.authorization}
    )
    assert answer.status_code == 200, answer.text
    status: str = answer.json()["status"]
    return status


async def _same_as_livekit(alice: HttpBrowser, gateway: TwirpLiveKitGateway, room_id: str) -> bool:
    return await _service_view(alice, room_id) == await _livekit_view(gateway, room_id)


async def _livekit_lists(gateway: TwirpLiveKitGateway, room_id: str, identities: set[str]) -> None:
    async def listed() -> bool:
        return {i for i, _ in await _livekit_view(gateway, room_id)} == identities

    await eventually(listed, f"LiveKit lists exactly {sorted(identities)}")


async def test_it_converges_when_no_webhook_arrives(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as bob, live.browser() as carol:
        await alice.login("alice@example.com")
        await bob.login("bob@example.com")
        room = await create_room(alice, "Lost webhooks", access_level="public")
        room_id = room["id"]
        carol_token = await token(carol, room_id)
        async with webhooks_lost(live), connected(live.livekit.url, carol_token) as carol_rtc:
            carol_identity = carol_rtc.local_participant.identity
            async with connected(live.livekit.url, await token(bob, room_id)) as bob_rtc:
                bob_identity = bob_rtc.local_participant.identity
                await _livekit_lists(gateway, room_id, {bob_identity, carol_identity})
                assert await _identities(alice, room_id) == set()
                outcome = await _reconcile(live, room_id)
                assert (outcome.changed, outcome.removed) == (2, ())
                assert await _same_as_livekit(alice, gateway, room_id)
            await _livekit_lists(gateway, room_id, {carol_identity})
            assert await _identities(alice, room_id) == {bob_identity, carol_identity}
            assert (await _reconcile(live, room_id)).changed == 1
            assert await _same_as_livekit(alice, gateway, room_id)
            assert await _identities(alice, room_id) == {carol_identity}
        async with webhooks_lost(live):

            async def closed() -> bool:
                return await gateway.list_rooms([room_id]) == []

            # Everyone left and LiveKit closed the room; `room_finished` was lost too.
            await eventually(closed, "LiveKit closed the empty room")
            assert await _identities(alice, room_id) == {carol_identity}
            outcome = await _reconcile(live, room_id)
        assert outcome.changed == 1
        assert await _listed(alice, room_id) == {"count": 0, "participants": []}


async def test_it_converges_when_webhooks_come_twice_and_in_reverse_order(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as bob, live.browser() as carol:
        await alice.login("alice@example.com")
        await bob.login("bob@example.com")
        room = await create_room(alice, "Shuffled webhooks", access_level="public")
        room_id = room["id"]
        carol_token = await token(carol, room_id)
        async with connected(live.livekit.url, carol_token) as carol_rtc:
            carol_identity = carol_rtc.local_participant.identity
            async with webhooks_lost(live) as held:
                async with connected(live.livekit.url, await token(bob, room_id)) as bob_rtc:
                    bob_identity = bob_rtc.local_participant.identity
                    await _livekit_lists(gateway, room_id, {bob_identity, carol_identity})
                await _livekit_lists(gateway, room_id, {carol_identity})
                # Bob's own `left`: one of another room (a previous test's participants
                # leaving) may arrive meanwhile.
                await _sent(live, room_id, "participant_left", bob_identity)
            bob_events = [
                d
                for d in _of_room(held, room_id)
                if json.loads(d.body).get("participant", {}).get("identity") == bob_identity
            ]
            kinds = [json.loads(d.body)["event"] for d in bob_events]
            assert kinds[0] == "participant_joined", kinds
            assert kinds[-1] == "participant_left", kinds
            # Last first, each twice: bob's `left` before his `joined`.
            outcomes = [await _deliver(alice, d) for d in reversed(bob_events) for _ in (1, 2)]
            assert outcomes[1::2] == ["duplicate"] * len(bob_events)

            async def converged() -> bool:
                return await _same_as_livekit(alice, gateway, room_id)

            await eventually(converged, "the list matches LiveKit's")
            assert await _identities(alice, room_id) == {carol_identity}


async def _sent(live: Live, room_id: str, kind: str, identity: str) -> None:
    """Waits for LiveKit's webhook `kind` of `identity` in this room (an identity is the
    same in every room, and webhooks of earlier tests' rooms may still be arriving)."""

    async def sent() -> bool:
        return any(
            (event := json.loads(d.body))["event"] == kind
            and event.get("participant", {}).get("identity") == identity
            for d in _of_room(live.gate.seen, room_id)
        )

    await eventually(sent, f"LiveKit sent {kind} of {identity}")


async def test_a_left_without_its_joined_reconciles_the_room(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as carol:
        await alice.login("alice@example.com")
        room = await create_room(alice, "Out of order", access_level="public")
        room_id = room["id"]
        carol_rtc_token = await token(carol, room_id)
        lost = webhooks_lost(live)
        await lost.__aenter__()
        try:
            async with connected(live.livekit.url, carol_rtc_token) as carol_rtc:
                carol_identity = carol_rtc.local_participant.identity
                await _sent(live, room_id, "participant_joined", carol_identity)
                await lost.__aexit__(None, None, None)
                # Carol is in LiveKit but not listed: her `joined` was lost.
                assert await _identities(alice, room_id) == set()
                # A `left` for someone never listed, signed by the test: out of order.
                body = event_body("participant_left", room_id, identity="dave", sid="PA_dave")
                answer = await alice.post(WEBHOOK, content=body, headers=signed(body))
                assert answer.json() == {"status": "handled"}

                async def converged() -> bool:
                    return await _same_as_livekit(alice, gateway, room_id)

                await eventually(converged, "the room was reconciled after the stray left")
                assert await _identities(alice, room_id) == {carol_identity}
                # Dave's `joined` arriving after his `left` doesn't list him.
                late = event_body("participant_joined", room_id, identity="dave", sid="PA_dave")
                answer = await alice.post(WEBHOOK, content=late, headers=signed(late))
                assert answer.json() == {"status": "handled"}
                assert await _identities(alice, room_id) == {carol_identity}
        finally:
            live.gate.dropping = False


async def test_the_periodic_pass_lists_live_rooms_and_clears_finished_ones(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as carol:
        await alice.login("alice@example.com")
        live_room = (await create_room(alice, "Live, unlisted", access_level="public"))["id"]
        finished = (await create_room(alice, "Finished, still listed", access_level="public"))["id"]
        ghost = PresentParticipant("ghost", "PA_ghost", "Ghost", 1)
        assert await live.antechamber.call(live.services.presence.joined(finished, ghost))
        async with (
            webhooks_lost(live),
            connected(live.livekit.url, await token(carol, live_room)) as carol_rtc,
        ):
            carol_identity = carol_rtc.local_participant.identity
            await _livekit_lists(gateway, live_room, {carol_identity})
            assert await _identities(alice, live_room) == set()
            assert await _identities(alice, finished) == {"ghost"}
            done = await live.antechamber.call(live.services.reconciler.full_pass())
            assert done >= 2
            assert await _identities(alice, live_room) == {carol_identity}
            assert await _identities(alice, finished) == set()
            # Its turn is taken for the period: a second pass leaves both rooms alone.
            again = await live.antechamber.call(live.services.reconciler.full_pass())
            assert again == 0
