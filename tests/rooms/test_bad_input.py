"""Whatever a client sends about rooms, the answer is a reasoned 4xx, never a 500."""

from __future__ import annotations

import pytest

from tests.conftest import Browser
from tests.helpers import ACCESSES, ROOMS, create_room


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "access_level": "secret"},
        {"name": "x", "access_level": None, "configuration": {"unknown_key": True}},
        {"name": "x", "configuration": {"can_publish_sources": "camera"}},
        {"name": ""},
        {"name": "a" * 10_000},
        {"name": "nul\x00byte"},
        {"name": "bell\x07"},
        {"name": "x", "owner": "someone-else"},
        [],
        "a string",
    ],
)
async def test_it_refuses_a_bad_room_with_a_reason(alice: Browser, body: object) -> None:
    response = await alice.post(ROOMS, json=body)

    assert response.status_code == 400, response.text
    assert response.json()
    assert (await alice.get(ROOMS)).json()["count"] == 0


@pytest.mark.parametrize("username", ["n" * 101, "n" * 10_000, "tab\tbell\x07", "nul\x00"])
async def test_it_refuses_a_bad_username_with_a_reason(
    alice: Browser, anonymous: Browser, username: str
) -> None:
    room = await create_room(alice, "Usernames")

    on_get = await anonymous.get(f"{ROOMS}{room['slug']}/", params={"username": username})
    on_post = await alice.post(ROOMS, params={"username": username}, json={"name": "y"})

    for response in (on_get, on_post):
        assert response.status_code == 400, response.text
        assert "username" in response.json()


async def test_it_refuses_an_absurdly_long_username_before_reading_it(anonymous: Browser) -> None:
    response = await anonymous.get(f"{ROOMS}whatever/", params={"username": "n" * 10_001})

    assert response.status_code == 400


@pytest.mark.parametrize(
    "key",
    [
        "no-such-room",
        "%00",
        "..%2F..%2Fetc",
        "a%0Ab",
        "Robert'); DROP TABLE rooms;--",
        "x" * 10_000,
        "00000000-0000-0000-0000-000000000000",
        "%F0%9F%99%82",
    ],
)
async def test_it_answers_404_for_a_room_that_cannot_exist(
    alice: Browser, anonymous: Browser, key: str
) -> None:
    await create_room(alice, "Exists")

    for browser in (alice, anonymous):
        response = await browser.get(f"{ROOMS}{key}/")
        assert response.status_code == 404, (key, response.text)
        assert response.json()["detail"]
    for method in ("PUT", "PATCH", "DELETE"):
        response = await alice.request(method, f"{ROOMS}{key}/", json={"name": "z"})
        assert response.status_code == 404, (method, key, response.text)


@pytest.mark.parametrize("access_id", ["not-a-uuid", "1", "%00", "x" * 5000])
async def test_it_refuses_a_malformed_access_id(alice: Browser, access_id: str) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        response = await alice.request(method, f"{ACCESSES}{access_id}/", json={"role": "member"})
        assert response.status_code in (400, 404), (method, response.text)
        assert response.json()


async def test_it_refuses_bad_filters_and_pages(alice: Browser) -> None:
    for query in ("resource=not-a-uuid", "page=0", "page=abc", "page_size=100000"):
        response = await alice.get(f"{ACCESSES}?{query}")
        assert response.status_code == 400, (query, response.text)
    for query in ("page=0", "page_size=-1"):
        assert (await alice.get(f"{ROOMS}?{query}")).status_code == 400


async def test_it_makes_every_colliding_slug_unique(alice: Browser) -> None:
    names = ["Daily", "daily", "DAILY!", " daily ", "Daily?", "dAiLy", "daily...", "Dailý"]

    slugs = [(await create_room(alice, name))["slug"] for name in names]

    assert slugs[0] == "daily"
    assert len(set(slugs)) == len(names)
    assert all(slug.startswith("daily") for slug in slugs)


async def test_it_derives_a_slug_from_names_without_latin_letters(alice: Browser) -> None:
    first = await create_room(alice, "会議室")
    second = await create_room(alice, "🙂🙂")

    assert first["name"] == "会議室"
    assert first["slug"] == "room"
    assert second["slug"].startswith("room-")
    assert (await alice.get(f"{ROOMS}{first['slug']}/")).json()["name"] == "会議室"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "unknown": 1},
        {"owner": "bob"},
        {"access_level": "secret"},
        {"configuration": {"unknown_key": True}},
        {"configuration": {"can_publish_sources": ["hologram"]}},
        {"configuration": "everything"},
        {"name": ""},
        {"name": "a" * 10_000},
        {"name": "nul\x00"},
    ],
)
async def test_it_refuses_bad_updates(alice: Browser, body: dict[str, object]) -> None:
    room = await create_room(alice, "Stable")

    for method in ("PUT", "PATCH"):
        response = await alice.request(method, f"{ROOMS}{room['slug']}/", json=body)
        assert response.status_code == 400, (method, response.text)
        assert response.json()
    unchanged = (await alice.get(f"{ROOMS}{room['slug']}/")).json()
    assert unchanged["name"] == "Stable"
    assert unchanged["configuration"] == room["configuration"]
