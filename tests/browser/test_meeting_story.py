"""The story of a meeting as people live it, in Chromium through a real LiveKit server:
each step checked in the pages and on the LiveKit server, with screenshots of each step
(test-results/browser/<test name>/) and axe-core on each screen."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import Callable
from pathlib import Path

from playwright.async_api import Page, expect

from antechamber.livekit.models import ParticipantInfo, TrackType
from tests.browser.conftest import Person, PersonFactory, Site

SERVER_TIMEOUT_S = 20.0
JS_BUDGET_BYTES = 250_000
# A tile's video has decoded frames and plays: a picture, not just an element.
PLAYING = """(identity) => {
  const tile = document.querySelector(
    `.tile[data-identity="${CSS.escape(identity)}"][data-source="camera"] video`);
  if (!tile || tile.hidden || tile.paused || tile.videoWidth === 0) return false;
  return tile.getVideoPlaybackQuality().totalVideoFrames > 0;
}"""


async def on_server(
    site: Site, room: str, check: Callable[[list[ParticipantInfo]], bool], what: str
) -> list[ParticipantInfo]:
    """Polls the LiveKit server until `check` holds for the room's participants."""
    gateway = site.gateway()
    deadline = time.monotonic() + SERVER_TIMEOUT_S
    participants: list[ParticipantInfo] = []
    try:
        while time.monotonic() < deadline:
            participants = await gateway.list_participants(room)
            if check(participants):
                return participants
            await asyncio.sleep(0.25)
    finally:
        await gateway.close()
    raise AssertionError(f"LiveKit server: {what}; participants: {participants}")


def named(participants: list[ParticipantInfo], name: str) -> ParticipantInfo | None:
    return next((p for p in participants if p.name == name), None)


def track(p: ParticipantInfo | None, kind: int) -> bool:
    return p is not None and any(t.type == kind and not t.muted for t in p.tracks)


async def playing(page: Page, identity: str) -> None:
    await page.wait_for_function(PLAYING, arg=identity, timeout=20_000)


async def join_from_prejoin(person: Person, name: str) -> None:
    page = person.page
    await expect(page.get_by_label("Your camera preview")).to_be_visible()
    await page.get_by_label("Your name").fill(name)
    await page.get_by_role("button", name="Join meeting").click()


async def admit(host: Person, guest_name: str) -> None:
    page = host.page
    await page.get_by_role("tab", name="Waiting").first.click()
    await page.get_by_role("button", name=f"Admit {guest_name}").click()


async def step(label: str, people: list[Person], screens: list[Person] | None = None) -> None:
    for person in people:
        await person.shot(label)
    for person in screens or []:
        await person.axe(label)


async def test_host_admits_mutes_sends_back_bans_and_ends(
    site: Site, people: PersonFactory
) -> None:
    host = await people("host")
    guest = await people("guest", width=390, height=844)  # a phone-sized screen
    h, g = host.page, guest.page

    # A host logs in (development login) and creates a restricted meeting.
    await h.goto("/")
    await expect(h.get_by_role("heading", name="Antechamber", level=1)).to_be_visible()
    await step("01-home", [host], [host])
    await h.get_by_label("Email (development login)").fill("hana@example.com")
    await h.get_by_role("button", name="Log in for development").click()
    await h.get_by_label("Meeting name").fill("Weekly review")
    await h.get_by_label("Who can enter").select_option("restricted")
    await step("02-create", [host], [host])
    await h.get_by_role("button", name="Create meeting").click()
    await expect(h.get_by_role("heading", name="Weekly review", level=1)).to_be_visible()
    slug = h.url.rstrip("/").rsplit("/", 1)[-1]
    room = await (await h.request.get(f"/api/v1.0/rooms/{slug}/")).json()
    room_id: str = room["id"]
    assert room["access_level"] == "restricted"
    assert room["is_administrable"] is True
    await step("03-prejoin", [host], [host])
    await join_from_prejoin(host, "Hana Host")
    await expect(h.get_by_role("button", name="Leave")).to_be_visible()
    found = await on_server(
        site,
        room_id,
        lambda ps: track(named(ps, "Hana Host"), TrackType.VIDEO),
        "the host publishes her camera",
    )
    host_id = found[0].identity

    # A guest (not logged in) knocks: the lobby's waiting screen; the host is told.
    await g.goto(f"/{slug}")
    await join_from_prejoin(guest, "Gus Guest")
    await expect(g.get_by_role("heading", name="Waiting to be let in")).to_be_visible()
    await expect(h.get_by_role("button", name="Host panel (1 waiting)")).to_be_visible()
    await expect(h.get_by_text("Gus Guest is waiting to join.").first).to_be_visible()
    await step("04-knock", [host, guest], [guest])
    await h.get_by_role("button", name="Host panel (1 waiting)").click()
    await expect(h.get_by_role("button", name="Admit Gus Guest")).to_be_visible()
    await step("05-waiting-list", [host], [host])

    # The host admits from the panel; each sees the other's video playing.
    await admit(host, "Gus Guest")
    found = await on_server(
        site,
        room_id,
        lambda ps: (
            track(named(ps, "Gus Guest"), TrackType.VIDEO)
            and track(named(ps, "Gus Guest"), TrackType.AUDIO)
        ),
        "the guest publishes camera and microphone",
    )
    guest_info = named(found, "Gus Guest")
    assert guest_info is not None
    guest_id = guest_info.identity
    await playing(h, guest_id)
    await playing(g, host_id)
    await step("06-admitted", [host, guest], [host, guest])

    # The guest raises a hand: the host's grid shows it, the server holds the attribute.
    await g.get_by_role("button", name="Raise hand").click()
    await expect(g.get_by_role("button", name="Lower hand")).to_be_visible()
    await expect(
        h.locator(f'.tile[data-identity="{guest_id}"] [data-badge="hand"]')
    ).to_be_visible()
    await on_server(
        site,
        room_id,
        lambda ps: bool((named(ps, "Gus Guest") or guest_info).attributes.get("handRaisedAt")),
        "the guest's hand is raised",
    )

    # The host mutes the guest's microphone: the guest's page shows it, the server too.
    await h.get_by_role("tab", name="People").click()
    await h.get_by_role("button", name="Mute microphone (Gus Guest)").click()
    await expect(h.get_by_text("Gus Guest's microphone was muted.").first).to_be_visible()
    await expect(g.get_by_text("A host muted your microphone.").first).to_be_visible()
    await expect(g.get_by_role("button", name="Unmute microphone")).to_be_visible()
    await on_server(
        site,
        room_id,
        lambda ps: any(
            t.type == TrackType.AUDIO and t.muted
            for t in (named(ps, "Gus Guest") or guest_info).tracks
        ),
        "the guest's microphone track is muted",
    )
    await step("07-muted", [host, guest], [guest])

    # Sent back to the lobby, and admitted again.
    await h.get_by_label("More actions for Gus Guest").click()
    await h.get_by_role("button", name="Send to waiting room (Gus Guest)").click()
    await expect(g.get_by_role("heading", name="You are back in the waiting room")).to_be_visible()
    await on_server(
        site, room_id, lambda ps: named(ps, "Gus Guest") is None, "the guest has left the room"
    )
    await step("08-sent-back", [host, guest], [guest])
    await admit(host, "Gus Guest")
    await playing(g, host_id)
    await on_server(
        site,
        room_id,
        lambda ps: track(named(ps, "Gus Guest"), TrackType.VIDEO),
        "the guest is back with video",
    )
    await playing(h, guest_id)
    await step("09-readmitted", [host, guest])

    # Removed and banned: the guest sees why, and can't come back.
    await h.get_by_role("tab", name="People").click()
    await h.get_by_label("More actions for Gus Guest").click()
    await h.get_by_label("Also ban for an hour").check()
    await step("10-remove", [host], [host])
    await h.get_by_role("button", name="Remove Gus Guest").click()
    await expect(g.get_by_role("heading", name="You can't join this meeting")).to_be_visible()
    await on_server(
        site, room_id, lambda ps: named(ps, "Gus Guest") is None, "the guest was removed"
    )
    await step("11-banned", [guest], [guest])
    await g.get_by_role("button", name="Back to home").click()
    await g.goto(f"/{slug}")
    await join_from_prejoin(guest, "Gus Guest")
    await expect(g.get_by_role("heading", name="You can't join this meeting")).to_be_visible()
    await expect(g.get_by_text("You were removed from this room.")).to_be_visible()
    await step("12-banned-again", [guest])
    await on_server(
        site, room_id, lambda ps: named(ps, "Gus Guest") is None, "the banned guest stays out"
    )

    # Another guest is admitted (admit all), then the host ends the meeting for everyone.
    other = await people("other")
    o = other.page
    await o.goto(f"/{slug}")
    await join_from_prejoin(other, "Olga Other")
    await expect(o.get_by_role("heading", name="Waiting to be let in")).to_be_visible()
    await h.get_by_role("tab", name="Waiting").first.click()
    await h.get_by_role("button", name="Admit all").click()
    await expect(o.get_by_role("button", name="Leave")).to_be_visible()
    await on_server(
        site, room_id, lambda ps: named(ps, "Olga Other") is not None, "the other guest joined"
    )
    await h.get_by_role("tab", name="Activity").click()
    await expect(h.get_by_text("remove and ban for 60 min → Gus Guest").first).to_be_visible()
    await step("13-activity", [host], [host])
    await h.get_by_role("tab", name="Settings").click()
    await step("14-settings", [host], [host])
    await h.get_by_role("button", name="End meeting for everyone").click()
    await h.get_by_role("button", name="Yes, end it for everyone").click()
    await expect(h.get_by_role("heading", name="The meeting has ended")).to_be_visible()
    await expect(o.get_by_role("heading", name="The meeting has ended")).to_be_visible()
    await on_server(site, room_id, lambda ps: ps == [], "nobody is left in the room")
    await step("15-ended", [host, other], [host, other])


async def test_guest_denied_and_host_leaves(site: Site, people: PersonFactory) -> None:
    """Deny all shows the denied page; the host who leaves can rejoin."""
    host = await people("host")
    guest = await people("guest")
    h, g = host.page, guest.page
    await h.goto("/")
    await h.get_by_label("Email (development login)").fill("dora@example.com")
    await h.get_by_role("button", name="Log in for development").click()
    await h.get_by_label("Meeting name").fill("Closed door")
    await h.get_by_label("Who can enter").select_option("trusted")
    await h.get_by_role("button", name="Create meeting").click()
    await expect(h.get_by_role("heading", name="Closed door", level=1)).to_be_visible()
    slug = h.url.rstrip("/").rsplit("/", 1)[-1]
    await join_from_prejoin(host, "Dora Host")
    await expect(h.get_by_role("button", name="Leave")).to_be_visible()

    await g.goto(f"/{slug}")
    await join_from_prejoin(guest, "Denis")
    await expect(g.get_by_role("heading", name="Waiting to be let in")).to_be_visible()
    await h.get_by_role("button", name="Host panel (1 waiting)").click()
    await h.get_by_role("button", name="Deny all").click()
    await expect(g.get_by_role("heading", name="Entry declined")).to_be_visible()
    await step("01-denied", [guest], [guest])

    # The host leaves; the left page offers to rejoin.
    await h.get_by_role("button", name="Leave").click()
    await expect(h.get_by_role("heading", name="You left the meeting")).to_be_visible()
    await step("02-left", [host], [host])


def test_javascript_shipped_stays_within_budget(web_dist: Path) -> None:
    """The issue's budget: 250 KB of JavaScript, gzipped."""
    scripts = list((web_dist / "assets").glob("*.js"))
    assert scripts, "no JavaScript in the build"
    shipped = sum(len(gzip.compress(path.read_bytes(), compresslevel=9)) for path in scripts)
    assert shipped <= JS_BUDGET_BYTES, f"{shipped} bytes gzipped"
