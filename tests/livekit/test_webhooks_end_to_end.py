"""The real LiveKit server's webhooks reach Antechamber and keep its live state."""

from __future__ import annotations

from antechamber.livekit.twirp import TwirpLiveKitGateway
from antechamber.presence.redis_store import RedisPresenceStore
from antechamber.presence.store import PresentParticipant
from tests.livekit.conftest import Live
from tests.livekit.participants import connected, eventually


async def _identities(presence: RedisPresenceStore, room: str) -> list[str]:
    return [p.identity for p in await presence.participants(room)]


async def test_it_lists_who_joined_with_an_antechamber_token_and_clears_it_when_the_room_ends(
    live: Live, presence: RedisPresenceStore, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice, live.browser() as bob:
        await alice.login("alice@example.com")
        await bob.login("bob@example.com")
        created = await alice.post("/api/v1.0/rooms/", json={"name": "Live meeting"})
        assert created.status_code == 201, created.text
        room_id = created.json()["id"]
        bob_access = (await bob.get(f"/api/v1.0/rooms/{room_id}/")).json()["livekit"]
        alice_access = created.json()["livekit"]

    assert await presence.participants(room_id) == []
    async with connected(alice_access["url"], alice_access["token"]) as alice_room:
        alice_identity = alice_room.local_participant.identity
        async with connected(bob_access["url"], bob_access["token"]) as bob_room:
            bob_identity = bob_room.local_participant.identity

            async def both_listed() -> bool:
                return set(await _identities(presence, room_id)) == {alice_identity, bob_identity}

            await eventually(both_listed, "participant_joined of both reached Antechamber")

        async def only_alice() -> bool:
            return await _identities(presence, room_id) == [alice_identity]

        await eventually(only_alice, "participant_left of bob reached Antechamber")
        # A participant whose `participant_left` was lost: only `room_finished` clears it.
        await presence.joined(room_id, PresentParticipant("ghost", "PA_ghost", "Ghost", 0))

    async def cleared() -> bool:
        return await presence.participants(room_id) == []

    await eventually(cleared, "room_finished reached Antechamber and cleared the room")

    # LiveKit may send room_finished before its own list drops the room (seen on a
    # loaded machine): the room is gone soon after, not necessarily at once.
    async def gone() -> bool:
        return await gateway.list_rooms([room_id]) == []

    await eventually(gone, "LiveKit no longer lists the finished room")
