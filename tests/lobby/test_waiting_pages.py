"""GET waiting-participants: whole by default, pages with `?limit=&after=`."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from tests.conftest import Browser, Stack
from tests.helpers import ROOMS, create_room


def waiting(room: dict[str, Any]) -> str:
    return f"{ROOMS}{room['id']}/waiting-participants/"


async def fill(stack: Stack, room: dict[str, Any], count: int) -> list[str]:
    ids = []
    for _ in range(count):
        async with stack.browser() as guest:
            body = (await guest.post(f"{ROOMS}{room['slug']}/request-entry/", json={})).json()
            ids.append(body["id"])
        await asyncio.sleep(0.002)  # distinct arrival times: the order is the creation order
    return ids


async def test_it_lists_everyone_by_default_and_pages_with_a_cursor(
    alice: Browser, stack: Stack
) -> None:
    room = await create_room(alice, "Long lobby", access_level="restricted")
    ids = await fill(stack, room, 7)
    whole = (await alice.get(waiting(room))).json()
    assert list(whole) == ["participants"]  # the front end's shape, unchanged
    assert [p["id"] for p in whole["participants"]] == ids
    seen: list[str] = []
    pages = 0
    url = waiting(room) + "?limit=3"
    while True:
        body = (await alice.get(url)).json()
        pages += 1
        seen += [p["id"] for p in body["participants"]]
        if body["next"] is None:
            break
        url = waiting(room) + f"?limit=3&after={body['next']}"
    assert (seen, pages) == (ids, 3)
    assert body["participants"] == whole["participants"][6:]
    rest = (await alice.get(waiting(room) + f"?after={whole_cursor(whole, 4)}")).json()
    assert [p["id"] for p in rest["participants"]] == ids[5:]
    assert rest["next"] is None


def whole_cursor(whole: dict[str, Any], index: int) -> str:
    """A cursor as the service makes it, from the whole list (its `next` is opaque to
    clients; the test knows it is arrival ms and id)."""
    place = whole["participants"][index]
    ms = round(datetime.fromisoformat(place["requested_at"]).timestamp() * 1000)
    return f"{ms}.{place['id']}"


async def test_it_keeps_its_place_in_the_list_when_the_cursors_participant_leaves(
    alice: Browser, stack: Stack
) -> None:
    room = await create_room(alice, "Moving lobby", access_level="restricted")
    ids = await fill(stack, room, 4)
    first = (await alice.get(waiting(room) + "?limit=2")).json()
    admitted = await alice.post(
        f"{ROOMS}{room['id']}/enter/", json={"participant_id": ids[1], "allow_entry": True}
    )
    assert admitted.status_code == 200
    second = (await alice.get(waiting(room) + f"?limit=2&after={first['next']}")).json()
    assert [p["id"] for p in second["participants"]] == ids[2:]
    assert second["next"] is None


async def test_it_refuses_bad_page_parameters_with_a_reason(alice: Browser, stack: Stack) -> None:
    room = await create_room(alice, "Strict lobby", access_level="restricted")
    await fill(stack, room, 1)
    for query, field in (
        ("limit=0", "limit"),
        ("limit=-3", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("after=nope", "after"),
        ("after=12", "after"),
        ("after=.abc", "after"),
        ("after=\u00b25.abc", "after"),  # a digit to str.isdigit, not to int()
        ("after=" + "9" * 300, "after"),
    ):
        response = await alice.get(waiting(room) + "?" + query)
        assert response.status_code == 400, (query, response.text)
        assert field in response.json(), (query, response.text)
        assert response.json()[field][0], query
