"""The audit trail: every moderation act and lobby decision, with how it ended, for the
room's owners and administrators only."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Browser
from tests.helpers import ROOMS, create_room, grant, livekit_down, me


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return livekit_down()


def _summary(page: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (r["action"], r["actor_identity"], r["target_identity"], r["outcome"])
        for r in page["results"]
    ]


async def test_it_records_acts_and_decisions_with_their_outcome(
    alice: Browser, bob: Browser, anonymous: Browser
) -> None:
    room = await create_room(alice, "Audited", access_level="trusted")
    base = f"{ROOMS}{room['id']}/"
    alice_id = (await alice.get(base)).json()["accesses"][0]["user"]["id"]
    waiting = await anonymous.post(base + "request-entry/", json={"username": "Carol"})
    carol = waiting.json()["id"]

    assert (
        await alice.post(base + "enter/", json={"participant_id": carol, "allow_entry": True})
    ).status_code == 200
    assert (await bob.post(base + "enter-all/", json={"allow_entry": False})).status_code == 403
    assert (await alice.post(base + "enter-all/", json={"allow_entry": False})).status_code == 200
    removed = await alice.post(
        base + "remove-participant/", json={"participant_identity": carol, "ban_seconds": 60}
    )
    assert removed.status_code == 503

    trail = await alice.get(base + "audit/")
    assert trail.status_code == 200, trail.text
    page = trail.json()
    assert page["count"] == 4
    actions = _summary(page)
    assert [(a, t, o) for a, _, t, o in actions] == [
        ("remove", carol, "upstream_unavailable"),
        ("lobby_decide_all", "", "ok"),
        ("lobby_decide_all", "", "permission_denied"),
        ("lobby_decide", carol, "ok"),
    ]
    first = page["results"][-1]
    assert first["detail"] == {"allow_entry": True}
    assert first["actor_user_id"] == alice_id
    assert page["results"][0]["detail"] == {"ban_seconds": 60}
    assert page["results"][1]["detail"] == {"allow_entry": False, "count": 0}
    assert page["results"][2]["actor_user_id"] == (await me(bob))["id"]

    paged = (await alice.get(base + "audit/?page=2&page_size=3")).json()
    assert len(paged["results"]) == 1
    assert paged["previous"] is not None
    assert paged["next"] is None


async def test_it_shows_the_trail_to_admins_only(
    alice: Browser, bob: Browser, anonymous: Browser
) -> None:
    room = await create_room(alice, "Secret trail")
    path = f"{ROOMS}{room['id']}/audit/"
    await alice.post(f"{ROOMS}{room['id']}/end-meeting/", json={})
    assert (await anonymous.get(path)).status_code == 401
    assert (await bob.get(path)).status_code == 403
    await grant(alice, room["id"], (await me(bob))["id"], "member")
    assert (await bob.get(path)).status_code == 403
    await create_room(bob, "Bob's own")
    assert (await bob.get(path)).status_code == 403
    listed = await alice.get(path)
    assert _summary(listed.json()) == [
        ("end_meeting", listed.json()["results"][0]["actor_identity"], "", "upstream_unavailable")
    ]
    assert (await alice.get(f"{ROOMS}no-such-room/audit/")).status_code == 404
