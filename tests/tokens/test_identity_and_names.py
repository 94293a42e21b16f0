"""Who a token says the participant is: identity, display name and attributes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from antechamber.tokens.colour import colour_for
from antechamber.tokens.identity import LOBBY_COOKIE, public_participant_id
from tests.conftest import Browser, Stack
from tests.helpers import ROOMS, create_room, grant, me
from tests.livekit_helpers import verify


async def _claims(browser: Browser, room: dict[str, Any], query: str = "") -> Any:
    response = await browser.get(f"{ROOMS}{room['slug']}/{query}")
    assert response.status_code == 200, response.text
    return verify(response.json()["livekit"]["token"])


async def test_it_identifies_a_logged_in_user_by_the_providers_subject(alice: Browser) -> None:
    room = await create_room(alice, "Identity")

    claims = await _claims(alice, room)

    # The development login's subject; with OpenID Connect it is the provider's `sub`.
    assert claims.identity == "dev|alice@example.com"
    assert verify(room["livekit"]["token"]).identity == claims.identity


async def test_it_identifies_an_anonymous_visitor_by_the_id_derived_from_its_cookie(
    alice: Browser, anonymous: Browser, stack: Stack
) -> None:
    room = await create_room(alice, "Anon")

    first = await _claims(anonymous, room)
    secret = anonymous.cookies.get(LOBBY_COOKIE)
    second = await _claims(anonymous, room)

    assert secret
    key = stack.settings.secret_key.get_secret_value().encode()
    assert first.identity == public_participant_id(key, secret)
    assert first.identity != secret  # the cookie's secret never leaves the cookie
    assert second.identity == first.identity
    assert anonymous.cookies.get(LOBBY_COOKIE) == secret


async def test_it_gives_another_cookie_another_identity(
    alice: Browser, anonymous: Browser, stack: Stack
) -> None:
    room = await create_room(alice, "Two visitors")
    async with stack.browser() as other:
        mine = await _claims(anonymous, room)
        theirs = await _claims(other, room)

    assert mine.identity != theirs.identity
    assert anonymous.cookies.get(LOBBY_COOKIE) != other.cookies.get(LOBBY_COOKIE)


async def test_it_replaces_a_malformed_lobby_cookie(alice: Browser, stack: Stack) -> None:
    room = await create_room(alice, "Bad cookie")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stack.app), base_url="http://testserver"
    ) as client:
        response = await client.get(
            f"{ROOMS}{room['slug']}/", headers={"Cookie": f"{LOBBY_COOKIE}=not-a-secret"}
        )

    assert response.status_code == 200, response.text
    secret = response.cookies.get(LOBBY_COOKIE)
    assert secret
    assert secret != "not-a-secret"
    key = stack.settings.secret_key.get_secret_value().encode()
    claims = verify(response.json()["livekit"]["token"])
    assert claims.identity == public_participant_id(key, secret)


async def test_it_uses_the_trimmed_username_when_given(alice: Browser, anonymous: Browser) -> None:
    room = await create_room(alice, "Names")

    assert (await _claims(anonymous, room, "?username=%20%20Zo%C3%A9%20%20")).name == "Zoé"
    assert (await _claims(alice, room, "?username=Captain")).name == "Captain"
    assert (await _claims(anonymous, room, "?username=" + "n" * 100)).name == "n" * 100


async def test_it_falls_back_to_the_full_name_then_to_anonymous(
    alice: Browser, anonymous: Browser
) -> None:
    room = await create_room(alice, "Fallback")

    assert (await _claims(alice, room)).name == "alice"  # the dev login's full name
    assert (await _claims(anonymous, room)).name == "Anonymous"
    # The front end always sends `?username=`, empty when the user typed nothing.
    assert (await _claims(alice, room, "?username=")).name == "alice"
    assert (await _claims(anonymous, room, "?username=%20%20")).name == "Anonymous"


async def test_it_refuses_a_username_longer_than_100_characters(
    alice: Browser, anonymous: Browser
) -> None:
    room = await create_room(alice, "Too long")

    response = await anonymous.get(f"{ROOMS}{room['slug']}/?username=" + "n" * 101)

    assert response.status_code == 400
    assert "username" in response.json()


@pytest.mark.parametrize(
    "settings_overrides",
    [{"default_display_name": "Guest", "authenticated_users_can_edit_display_name": False}],
)
async def test_it_ignores_a_logged_in_users_username_when_names_are_locked(
    alice: Browser, anonymous: Browser
) -> None:
    room = await create_room(alice, "Locked names")

    assert (await _claims(alice, room, "?username=Impostor")).name == "alice"
    assert (
        verify(
            (await alice.post(f"{ROOMS}?username=Impostor", json={"name": "x"})).json()["livekit"][
                "token"
            ]
        ).name
        == "alice"
    )
    # Anonymous visitors still choose theirs; without one they get the configured default.
    assert (await _claims(anonymous, room, "?username=Visitor")).name == "Visitor"
    assert (await _claims(anonymous, room)).name == "Guest"


async def test_it_names_the_creator_as_asked_in_the_create_call(alice: Browser) -> None:
    response = await alice.post(f"{ROOMS}?username=Host", json={"name": "Named"})

    assert response.status_code == 201, response.text
    assert verify(response.json()["livekit"]["token"]).name == "Host"


@pytest.mark.parametrize(
    ("persona", "room_role", "is_authenticated"),
    [
        ("owner", "owner", "true"),
        ("administrator", "administrator", "true"),
        ("member", "member", "true"),
        ("stranger", "", "true"),
        ("anonymous", "", "false"),
    ],
)
async def test_it_sets_the_attributes_the_front_end_reads(
    persona: str,
    room_role: str,
    is_authenticated: str,
    alice: Browser,
    bob: Browser,
    anonymous: Browser,
) -> None:
    room = await create_room(alice, "Attributes")
    caller = {"owner": alice, "anonymous": anonymous}.get(persona, bob)
    if persona in ("administrator", "member"):
        await grant(alice, room["id"], (await me(bob))["id"], persona)

    claims = await _claims(caller, room)

    assert claims.attributes == {
        "color": colour_for(claims.identity),
        "room_role": room_role,
        "is_authenticated": is_authenticated,
    }


def test_a_lobby_identity_is_the_same_in_every_version() -> None:
    """A waiting participant's public id must survive a deploy (their place and the
    admins' list name them by it): a fixed vector, HMAC-SHA256 of the lobby secret under
    the service's key, its first 16 bytes as a version-4 UUID."""
    assert public_participant_id(b"k" * 40, "a" * 43) == "0c3492fe-757a-4fdf-8e1a-dced4db7412b"
