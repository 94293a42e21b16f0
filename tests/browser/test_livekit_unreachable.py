"""LiveKit down (its server stopped for this module): the meeting page says the media
server can't be reached, and the API still answers."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.conftest import PersonFactory, Site
from tests.browser.test_meeting_story import join_from_prejoin


async def test_livekit_unreachable_page(site: Site, people: PersonFactory) -> None:
    host = await people("host")
    h = host.page
    await h.goto("/")
    await h.get_by_label("Email (development login)").fill("lou@example.com")
    await h.get_by_role("button", name="Log in for development").click()
    await h.get_by_label("Meeting name").fill("No media")
    await h.get_by_role("button", name="Create meeting").click()
    await expect(h.get_by_role("heading", name="No media", level=1)).to_be_visible()

    site.livekit.stop()  # this module's own server
    await join_from_prejoin(host, "Lou")
    await expect(h.get_by_role("heading", name="The media server can't be reached")).to_be_visible(
        timeout=40_000
    )
    await host.shot("01-livekit-unreachable")
    await host.axe("livekit unreachable")
    assert (await h.request.get("/api/v1.0/config/")).status == 200
    await h.get_by_role("button", name="Rejoin").click()
    await expect(h.get_by_role("heading", name="No media", level=1)).to_be_visible()
