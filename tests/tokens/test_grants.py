"""The grants of every token the API hands out, against api.md's "LiveKit tokens" table.

Every access level x every kind of caller: the room's owner, an administrator, a member,
a logged-in stranger (no role) and an anonymous visitor. Tokens are checked with the
LiveKit SDK's verifier and, for what must never be there, in their raw JSON too.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Browser, Stack
from tests.helpers import ROOMS, create_room, grant, jwt_payload, me
from tests.livekit_helpers import verify

ALL_SOURCES = {"camera", "microphone", "screen_share", "screen_share_audio"}
ROOM_SOURCES = ["microphone", "screen_share"]
FORBIDDEN_VIDEO_GRANTS = {
    "hidden",
    "recorder",
    "agent",
    "roomCreate",
    "roomList",
    "roomRecord",
    "ingressAdmin",
    "canUpdateOwnMetadata",
}
ALLOWED_VIDEO_GRANTS = {
    "roomJoin",
    "room",
    "roomAdmin",
    "canPublish",
    "canPublishSources",
    "canSubscribe",
    "canPublishData",
}
ALLOWED_TOP_LEVEL = {"sub", "iss", "nbf", "exp", "name", "video", "attributes"}

# Who may join directly, per api.md: public everyone; trusted the logged-in; restricted
# only holders of a role.
JOINS = {
    "public": {"owner", "administrator", "member", "stranger", "anonymous"},
    "trusted": {"owner", "administrator", "member", "stranger"},
    "restricted": {"owner", "administrator", "member"},
}
PERSONAS = ["owner", "administrator", "member", "stranger", "anonymous"]


def assert_least_privilege(token: str, room_id: str, *, admin: bool, sources: set[str]) -> None:
    claims = verify(token)
    video = claims.video
    assert video is not None
    assert video.room_join is True
    assert video.room == room_id
    assert video.can_subscribe is True
    assert video.can_publish_data is True
    assert set(video.can_publish_sources or []) == sources
    assert video.can_publish is bool(sources)
    raw = jwt_payload(token)
    assert set(raw) <= ALLOWED_TOP_LEVEL, set(raw) - ALLOWED_TOP_LEVEL
    assert set(raw["video"]) <= ALLOWED_VIDEO_GRANTS, set(raw["video"]) - ALLOWED_VIDEO_GRANTS
    assert not FORBIDDEN_VIDEO_GRANTS & set(raw["video"])
    for name in ("hidden", "recorder", "agent", "room_create", "room_list", "room_record"):
        assert not getattr(video, name), name
    assert not video.ingress_admin
    assert not video.can_update_own_metadata
    if admin:
        assert video.room_admin is True
    else:
        assert not video.room_admin
        assert "roomAdmin" not in raw["video"]


async def _caller(
    persona: str, alice: Browser, bob: Browser, anonymous: Browser, room: dict[str, Any]
) -> Browser:
    if persona == "owner":
        return alice
    if persona == "anonymous":
        return anonymous
    if persona in ("administrator", "member"):
        await grant(alice, room["id"], (await me(bob))["id"], persona)
    return bob


@pytest.mark.parametrize("access_level", ["public", "trusted", "restricted"])
@pytest.mark.parametrize("persona", PERSONAS)
async def test_it_grants_exactly_what_the_role_and_access_level_allow(
    access_level: str,
    persona: str,
    alice: Browser,
    bob: Browser,
    anonymous: Browser,
) -> None:
    room = await create_room(
        alice,
        "Grants",
        access_level=access_level,
        configuration={"can_publish_sources": ROOM_SOURCES},
    )
    caller = await _caller(persona, alice, bob, anonymous, room)

    response = await caller.get(f"{ROOMS}{room['slug']}/")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == room["id"]
    if persona not in JOINS[access_level]:
        assert body["livekit"] is None
        return
    assert body["livekit"]["room"] == room["id"]
    is_admin = persona in ("owner", "administrator")
    assert_least_privilege(
        body["livekit"]["token"],
        room["id"],
        admin=is_admin,
        sources=ALL_SOURCES if is_admin else set(ROOM_SOURCES),
    )
    assert body["is_administrable"] is is_admin
    assert (body["accesses"] is not None) is is_admin


@pytest.mark.parametrize("access_level", ["public", "trusted", "restricted"])
async def test_it_gives_the_creator_an_owner_token_at_once(
    access_level: str, alice: Browser
) -> None:
    room = await create_room(
        alice, "Instant", access_level=access_level, configuration={"can_publish_sources": []}
    )

    assert room["livekit"]["room"] == room["id"]
    # The room's (empty) configuration binds participants, never its admins.
    assert_least_privilege(room["livekit"]["token"], room["id"], admin=True, sources=ALL_SOURCES)


async def test_it_lets_nobody_publish_when_the_room_allows_no_source(
    alice: Browser, bob: Browser
) -> None:
    room = await create_room(alice, "Listen only", configuration={"can_publish_sources": []})

    token = (await bob.get(f"{ROOMS}{room['id']}/")).json()["livekit"]["token"]

    assert_least_privilege(token, room["id"], admin=False, sources=set())
    assert verify(token).video.can_publish is False  # type: ignore[union-attr]
    assert jwt_payload(token)["video"]["canPublish"] is False


async def test_it_follows_a_configuration_change_in_the_next_token(
    alice: Browser, bob: Browser
) -> None:
    room = await create_room(alice, "Changing")
    before = (await bob.get(f"{ROOMS}{room['slug']}/")).json()["livekit"]["token"]
    assert set(verify(before).video.can_publish_sources or []) == ALL_SOURCES  # type: ignore[union-attr]

    response = await alice.patch(
        f"{ROOMS}{room['slug']}/", json={"configuration": {"can_publish_sources": ["camera"]}}
    )
    assert response.status_code == 200, response.text

    after = (await bob.get(f"{ROOMS}{room['slug']}/")).json()["livekit"]["token"]
    assert_least_privilege(after, room["id"], admin=False, sources={"camera"})


async def test_it_stops_admin_grants_once_the_role_is_withdrawn(
    alice: Browser, bob: Browser
) -> None:
    room = await create_room(alice, "Demotion", access_level="restricted")
    access = await grant(alice, room["id"], (await me(bob))["id"], "administrator")
    admin_token = (await bob.get(f"{ROOMS}{room['id']}/")).json()["livekit"]["token"]
    assert verify(admin_token).video.room_admin is True  # type: ignore[union-attr]

    demoted = await alice.patch(
        f"/api/v1.0/resource-accesses/{access['id']}/", json={"role": "member"}
    )
    assert demoted.status_code == 200, demoted.text
    member_token = (await bob.get(f"{ROOMS}{room['id']}/")).json()["livekit"]["token"]
    assert_least_privilege(member_token, room["id"], admin=False, sources=ALL_SOURCES)

    removed = await alice.delete(f"/api/v1.0/resource-accesses/{access['id']}/")
    assert removed.status_code == 204
    assert (await bob.get(f"{ROOMS}{room['id']}/")).json()["livekit"] is None


async def test_it_makes_tokens_live_as_long_as_the_setting_says(
    alice: Browser, stack: Stack
) -> None:
    room = await create_room(alice, "TTL")

    raw = jwt_payload(room["livekit"]["token"])

    assert raw["exp"] - raw["nbf"] == stack.settings.token_ttl_s
    assert raw["iss"] == stack.settings.livekit.api_key
