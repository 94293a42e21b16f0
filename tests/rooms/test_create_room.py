from __future__ import annotations

from tests.conftest import Browser, Stack
from tests.helpers import ROOMS, create_room
from tests.livekit_helpers import verify


async def test_it_creates_a_room_owned_by_its_creator(alice: Browser) -> None:
    response = await alice.post(ROOMS, json={"name": "Weekly Sync"})
    assert response.status_code == 201, response.text
    room = response.json()
    assert room["slug"] == "weekly-sync"
    assert room["access_level"] == "public"
    assert room["is_administrable"] is True
    assert [a["role"] for a in room["accesses"]] == ["owner"]
    assert room["accesses"][0]["user"]["email"] == "alice@example.com"
    claims = verify(room["livekit"]["token"])
    assert claims.video is not None
    assert claims.video.room == room["id"] == room["livekit"]["room"]
    assert claims.video.room_admin is True


async def test_it_makes_slugs_unique(alice: Browser, bob: Browser) -> None:
    first = await alice.post(ROOMS, json={"name": "Standup"})
    second = await bob.post(ROOMS, json={"name": "standup!"})
    assert first.status_code == second.status_code == 201
    assert first.json()["slug"] == "standup"
    assert second.json()["slug"].startswith("standup-")
    assert second.json()["slug"] != "standup"


async def test_it_refuses_anonymous_creation(anonymous: Browser) -> None:
    response = await anonymous.post(ROOMS, json={"name": "x"})
    assert response.status_code == 401
    assert "detail" in response.json()


async def test_it_refuses_bad_input_with_reasons(alice: Browser) -> None:
    cases = [
        {"name": "x", "access_level": "secret"},
        {"name": "x", "configuration": {"can_publish_sources": ["camera"], "x": 1}},
        {"name": "x", "configuration": {"can_publish_sources": ["hologram"]}},
        {"name": ""},
        {"name": "   "},
        {"name": "a" * 10_000},
        {},
        {"name": 12},
    ]
    for body in cases:
        response = await alice.post(ROOMS, json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json(), body
    assert (
        await alice.post(ROOMS, content=b"{not json", headers={"content-type": "application/json"})
    ).status_code == 400
    assert (await alice.get(ROOMS)).json()["count"] == 0


async def test_it_lists_only_the_callers_rooms(alice: Browser, bob: Browser, stack: Stack) -> None:
    await alice.post(ROOMS, json={"name": "A1"})
    await alice.post(ROOMS, json={"name": "A2"})
    await bob.post(ROOMS, json={"name": "B1"})
    page = (await alice.get(ROOMS)).json()
    assert page["count"] == 2
    assert {r["name"] for r in page["results"]} == {"A1", "A2"}
    async with stack.browser() as stranger:
        assert (await stranger.get(ROOMS)).json() == {
            "count": 0,
            "next": None,
            "previous": None,
            "results": [],
        }


async def test_a_patch_keeps_the_cap_it_leaves_out_and_removes_it_on_an_explicit_null(
    alice: Browser,
) -> None:
    room = await create_room(alice, "Capped", configuration={"max_participants": 3})
    url = f"{ROOMS}{room['id']}/"
    kept = await alice.patch(url, json={"configuration": {"muted_on_join": True}})
    assert kept.status_code == 200, kept.text
    assert kept.json()["configuration"]["max_participants"] == 3
    assert kept.json()["configuration"]["muted_on_join"] is True
    removed = await alice.patch(url, json={"configuration": {"max_participants": None}})
    assert removed.status_code == 200, removed.text
    assert removed.json()["configuration"]["max_participants"] is None
    assert removed.json()["configuration"]["muted_on_join"] is True
