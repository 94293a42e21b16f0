"""The lobby's waiting screen when its event stream can't be held (a proxy that drops
it, here the browser refusing the request): the page polls request-entry and still enters
once admitted."""

from __future__ import annotations

from playwright.async_api import Route, expect

from tests.browser.conftest import PersonFactory, Site
from tests.browser.test_meeting_story import join_from_prejoin, named, on_server


async def test_waiting_screen_polls_when_the_stream_fails(
    site: Site, people: PersonFactory
) -> None:
    host = await people("host")
    guest = await people("guest")
    h, g = host.page, guest.page
    await h.goto("/")
    await h.get_by_label("Email (development login)").fill("pat@example.com")
    await h.get_by_role("button", name="Log in for development").click()
    await h.get_by_label("Meeting name").fill("Poll room")
    await h.get_by_label("Who can enter").select_option("restricted")
    await h.get_by_role("button", name="Create meeting").click()
    await expect(h.get_by_role("heading", name="Poll room", level=1)).to_be_visible()
    slug = h.url.rstrip("/").rsplit("/", 1)[-1]
    room = await (await h.request.get(f"/api/v1.0/rooms/{slug}/")).json()
    await join_from_prejoin(host, "Pat Host")

    refused: list[str] = []
    polls: list[str] = []

    async def drop(route: Route) -> None:
        refused.append(route.request.url)
        await route.abort("connectionreset")

    await g.route("**/lobby-events/", drop)
    g.on(
        "request",
        lambda r: polls.append(r.url) if r.url.endswith("/request-entry/") else None,
    )
    await g.goto(f"/{slug}")
    await join_from_prejoin(guest, "Polly")
    await expect(g.get_by_role("heading", name="Waiting to be let in")).to_be_visible()
    await expect(g.get_by_text("Waiting for a host…")).to_be_visible()
    # The first request-entry is the knock; later ones are polls (one a second here).
    for _ in range(150):
        if len(polls) > 2:
            break
        await g.wait_for_timeout(100)
    assert len(polls) > 2, f"no polling: {polls}"
    assert refused, "the stream was never tried"

    await h.get_by_role("button", name="Host panel (1 waiting)").click()
    await h.get_by_role("button", name="Admit Polly").click()
    await expect(g.get_by_role("button", name="Leave")).to_be_visible(timeout=15_000)
    await on_server(
        site, room["id"], lambda ps: named(ps, "Polly") is not None, "Polly joined by polling"
    )
    await guest.shot("01-admitted-by-polling")
