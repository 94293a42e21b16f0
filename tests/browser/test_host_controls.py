"""A host's other controls, in Chromium through a real LiveKit server: a logged-in member
made administrator, a source refused to one participant, the room's settings, and the
panel's keyboard use."""

from __future__ import annotations

from playwright.async_api import expect

from antechamber.livekit.models import TrackSource
from tests.browser.conftest import PersonFactory, Site
from tests.browser.test_meeting_story import join_from_prejoin, named, on_server, playing


async def test_roles_sources_settings_and_keyboard(site: Site, people: PersonFactory) -> None:
    host = await people("host")
    member = await people("member", width=390, height=844)
    h, m = host.page, member.page

    # Keyboard only: the page's heading has focus, Tab reaches the login form, Enter sends it.
    await h.goto("/")
    await expect(h.get_by_role("heading", name="Antechamber", level=1)).to_be_focused()
    await h.keyboard.press("Tab")
    await expect(h.get_by_label("Email (development login)")).to_be_focused()
    await h.keyboard.type("tess@example.com")
    await h.keyboard.press("Enter")
    await h.get_by_label("Meeting name").fill("Team sync")
    await h.get_by_label("Who can enter").select_option("trusted")
    await h.get_by_role("button", name="Create meeting").click()
    await expect(h.get_by_role("heading", name="Team sync", level=1)).to_be_visible()
    slug = h.url.rstrip("/").rsplit("/", 1)[-1]
    room = await (await h.request.get(f"/api/v1.0/rooms/{slug}/")).json()
    room_id: str = room["id"]
    await join_from_prejoin(host, "Tess Host")

    # A logged-in member joins a trusted room directly (no lobby).
    await m.goto("/")
    await m.get_by_label("Email (development login)").fill("mia@example.com")
    await m.get_by_role("button", name="Log in for development").click()
    await expect(m.get_by_text("Signed in as mia.")).to_be_visible()
    await m.get_by_label("Meeting link or code").fill(f"{site.url}/{slug}")
    await m.get_by_role("button", name="Join", exact=True).click()
    await join_from_prejoin(member, "Mia Member")
    await expect(m.get_by_role("button", name="Leave")).to_be_visible()
    await on_server(site, room_id, lambda ps: named(ps, "Mia Member") is not None, "Mia joined")
    # The host joined straight after a keyboard login: her camera came along all the same.
    await playing(m, "dev|tess@example.com")

    # The host shares a screen (Chromium's fake capture): the server lists the track.
    await h.get_by_role("button", name="Share screen").click()
    await expect(h.get_by_role("button", name="Stop sharing")).to_be_visible()
    await on_server(
        site,
        room_id,
        lambda ps: any(
            t.source == TrackSource.SCREEN_SHARE for t in (named(ps, "Tess Host") or ps[0]).tracks
        ),
        "the host's screen share is published",
    )
    await expect(m.locator('.tile[data-source="screen"]')).to_be_visible()
    await member.shot("00-screen-share")
    await h.get_by_role("button", name="Stop sharing").click()
    await expect(h.get_by_role("button", name="Share screen")).to_be_visible()

    # Made administrator: the server's attribute changes, the host's panel offers the reverse.
    await h.get_by_role("button", name="Host panel").click()
    await h.get_by_role("tab", name="People").click()
    await h.get_by_label("More actions for Mia Member").click()
    await h.get_by_role("button", name="Make administrator").click()
    await on_server(
        site,
        room_id,
        lambda ps: (
            (p := named(ps, "Mia Member")) is not None
            and p.attributes.get("room_role") == "administrator"
        ),
        "Mia is an administrator",
    )
    await expect(h.get_by_role("button", name="Make member")).to_be_visible()
    await host.shot("01-administrator")
    await host.axe("participants")

    # Her camera refused: the server's permission, and her page says it.
    fieldset = h.get_by_role("group", name="What Mia Member may share")
    await fieldset.get_by_label("Camera").uncheck()
    await fieldset.get_by_role("button", name="Apply").click()
    await on_server(
        site,
        room_id,
        lambda ps: (
            (p := named(ps, "Mia Member")) is not None
            and TrackSource.CAMERA not in p.permission.can_publish_sources
            and TrackSource.MICROPHONE in p.permission.can_publish_sources
        ),
        "Mia may not publish her camera",
    )
    await expect(m.get_by_text("A host changed what you may share.").first).to_be_visible()
    await expect(m.get_by_role("button", name="Camera not allowed")).to_be_visible()
    await member.shot("02-camera-refused")
    await member.axe("camera refused")

    # Room settings: screen sharing refused to participants, saved on the server.
    await h.get_by_role("tab", name="People").focus()
    await h.keyboard.press("ArrowRight")
    settings_tab = h.get_by_role("tab", name="Settings")
    await expect(settings_tab).to_be_focused()
    await expect(settings_tab).to_have_attribute("aria-selected", "true")
    await (
        h.get_by_role("group", name="What participants may share")
        .get_by_label("Screen", exact=True)
        .uncheck()
    )
    await h.get_by_label("Everyone can mute others").uncheck()
    await h.get_by_role("button", name="Save settings").click()
    await expect(h.get_by_text("Room settings saved.").first).to_be_visible()
    saved = await (await h.request.get(f"/api/v1.0/rooms/{room_id}/")).json()
    assert "screen_share" not in saved["configuration"]["can_publish_sources"]
    assert "camera" in saved["configuration"]["can_publish_sources"]
    assert saved["configuration"]["everyone_can_mute"] is False
    await host.shot("03-settings")
