"""A change of access level or configuration reaches the live LiveKit room's metadata."""

from __future__ import annotations

import json

from antechamber.livekit.twirp import TwirpLiveKitGateway
from tests.livekit.conftest import Live
from tests.livekit.participants import connected, eventually


async def test_it_pushes_access_level_and_configuration_to_the_live_room(
    live: Live, gateway: TwirpLiveKitGateway
) -> None:
    async with live.browser() as alice:
        await alice.login("alice@example.com")
        created = (await alice.post("/api/v1.0/rooms/", json={"name": "Pushed"})).json()
        room_id = created["id"]
        async with connected(live.livekit.url, created["livekit"]["token"]) as participant:
            response = await alice.patch(
                f"/api/v1.0/rooms/{room_id}/",
                json={
                    "access_level": "restricted",
                    "configuration": {"can_publish_sources": ["microphone"]},
                },
            )
            assert response.status_code == 200, response.text
            expected = {
                "access_level": "restricted",
                "configuration": response.json()["configuration"],
            }

            async def seen_by_participant() -> bool:
                return bool(participant.metadata) and json.loads(participant.metadata) == expected

            await eventually(seen_by_participant, "the metadata reached the live room")
            [room] = await gateway.list_rooms([room_id])
            assert json.loads(room.metadata) == expected

            # A rename changes neither: nothing is pushed.
            await gateway.update_room_metadata(room_id, "untouched")
            renamed = await alice.patch(f"/api/v1.0/rooms/{room_id}/", json={"name": "New"})
            assert renamed.status_code == 200
            [room] = await gateway.list_rooms([room_id])
            assert room.metadata == "untouched"
