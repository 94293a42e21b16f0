"""OpenID Connect login, end to end, against a real (local) provider: oidc-provider-mock
serving discovery, an authorize form, a token endpoint, userinfo and end-session over
HTTP on loopback. Nothing of our side is replaced."""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from antechamber.settings import OIDCSettings
from tests.conftest import Browser
from tests.helpers import API
from tests.oidc_provider import oidc_provider

RETURN_TO = "http://front.test/meeting/abc-defg-hij"
# The provider (not our code) calls an Authlib API deprecated in favour of a newer one;
# under the suite's warnings-as-errors that would make its token endpoint answer 500.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    with oidc_provider() as issuer:
        yield issuer


@pytest.fixture
def settings_overrides(provider: str) -> dict[str, Any]:
    # A confidential client: the mock's token endpoint accepts no public (`none`) clients.
    return {
        "oidc": OIDCSettings(
            issuer=provider, client_id="antechamber-test", client_secret="test-client-secret"
        )
    }


@pytest.fixture
async def idp(provider: str) -> AsyncIterator[httpx.AsyncClient]:
    """The user's browser on the provider's side (a different site than ours)."""
    async with httpx.AsyncClient(base_url=provider, timeout=10) as client:
        yield client


def _query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def _local(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    assert parts.netloc == "testserver", url
    return f"{parts.path}?{parts.query}"


async def _start(browser: Browser, **params: str) -> str:
    response = await browser.get(API + "authenticate/", params=params)
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def _sign_in_at_provider(idp: httpx.AsyncClient, authorize_url: str, sub: str) -> str:
    """Submits the provider's login form; returns where it sends the browser back."""
    response = await idp.post(authorize_url, data={"sub": sub})
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def test_it_logs_in_through_the_provider_with_pkce(
    anonymous: Browser, idp: httpx.AsyncClient, provider: str
) -> None:
    await idp.put("/users/alice-sub", json={"email": "alice@idp.test", "name": "Alice Liddell"})

    authorize_url = await _start(anonymous, returnTo=RETURN_TO)
    assert authorize_url.startswith(provider + "/")
    request = _query(authorize_url)
    assert request["response_type"] == "code"
    assert request["client_id"] == "antechamber-test"
    assert request["redirect_uri"] == "http://testserver/api/v1.0/callback/"
    assert request["code_challenge_method"] == "S256"
    assert len(request["code_challenge"]) == 43
    assert request["state"]
    assert request["nonce"]
    assert "openid" in request["scope"].split()
    assert "prompt" not in request

    back = await _sign_in_at_provider(idp, authorize_url, "alice-sub")
    assert _query(back)["state"] == request["state"]
    callback = await anonymous.get(_local(back))

    assert callback.status_code == 302, callback.text
    assert callback.headers["location"] == RETURN_TO
    assert anonymous.cookies.get("sessionid")
    me = (await anonymous.get(API + "users/me/")).json()
    assert me["email"] == "alice@idp.test"
    assert me["full_name"] == "Alice Liddell"
    assert me["short_name"] == "Alice"


async def test_it_uses_the_providers_sub_as_the_users_identity(
    anonymous: Browser, idp: httpx.AsyncClient
) -> None:
    from tests.livekit_helpers import verify

    await idp.put("/users/sub-42", json={"email": "zoe@idp.test", "name": "Zoé"})
    back = await _sign_in_at_provider(idp, await _start(anonymous), "sub-42")
    assert (await anonymous.get(_local(back))).headers["location"] == "/"

    room = (await anonymous.post(API + "rooms/", json={"name": "OIDC room"})).json()

    claims = verify(room["livekit"]["token"])
    assert claims.identity == "sub-42"
    assert claims.name == "Zoé"


async def test_it_updates_the_user_at_the_next_login(
    anonymous: Browser, idp: httpx.AsyncClient, stack: Any
) -> None:
    await idp.put("/users/bob-sub", json={"email": "bob@idp.test", "name": "Bob"})
    back = await _sign_in_at_provider(idp, await _start(anonymous), "bob-sub")
    await anonymous.get(_local(back))
    first = (await anonymous.get(API + "users/me/")).json()

    await idp.put("/users/bob-sub", json={"email": "robert@idp.test", "name": "Robert Smith"})
    async with stack.browser() as other_device:
        back = await _sign_in_at_provider(idp, await _start(other_device), "bob-sub")
        await other_device.get(_local(back))
        second = (await other_device.get(API + "users/me/")).json()

    assert second["id"] == first["id"]
    assert second["email"] == "robert@idp.test"
    assert second["full_name"] == "Robert Smith"


@pytest.mark.parametrize(
    "return_to",
    [
        "https://evil.test/phish",
        "//evil.test/phish",
        "/\\evil.test",
        "javascript:alert(1)",
        "http://front.test.evil.test/",
        "http://front.test@evil.test/",
    ],
)
async def test_it_refuses_to_return_to_a_foreign_origin(anonymous: Browser, return_to: str) -> None:
    response = await anonymous.get(API + "authenticate/", params={"returnTo": return_to})

    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert "returnTo" in response.json()


async def test_it_refuses_a_replayed_state(anonymous: Browser, idp: httpx.AsyncClient) -> None:
    back = await _sign_in_at_provider(idp, await _start(anonymous, returnTo=RETURN_TO), "eve")
    assert (await anonymous.get(_local(back))).status_code == 302
    await anonymous.get(API + "logout/")

    replay = await anonymous.get(_local(back))

    assert replay.status_code == 403
    assert "location" not in replay.headers
    assert (await anonymous.get(API + "users/me/")).status_code == 401


async def test_it_refuses_an_unknown_state(anonymous: Browser, idp: httpx.AsyncClient) -> None:
    back = await _sign_in_at_provider(idp, await _start(anonymous), "mallory")
    code = _query(back)["code"]

    for state in ("forged-state", ""):
        response = await anonymous.get(API + "callback/", params={"code": code, "state": state})
        assert response.status_code == 403, state
    assert (await anonymous.get(API + "users/me/")).status_code == 401


async def test_it_refuses_a_code_issued_for_another_login_attempt(
    anonymous: Browser, idp: httpx.AsyncClient, stack: Any
) -> None:
    victims_back = await _sign_in_at_provider(idp, await _start(anonymous), "victim")
    async with stack.browser() as attacker:
        attackers_state = _query(await _start(attacker))["state"]
        # The victim's code, bound to the victim's nonce and verifier, with the attacker's state.
        response = await attacker.get(
            API + "callback/",
            params={"code": _query(victims_back)["code"], "state": attackers_state},
        )
        assert response.status_code == 403
        assert (await attacker.get(API + "users/me/")).status_code == 401


async def test_it_asks_for_a_silent_login_with_prompt_none(anonymous: Browser) -> None:
    authorize_url = await _start(anonymous, returnTo=RETURN_TO, silent="true")

    assert _query(authorize_url)["prompt"] == "none"


async def test_it_returns_to_the_page_when_a_silent_login_fails(anonymous: Browser) -> None:
    state = _query(await _start(anonymous, returnTo=RETURN_TO, silent="true"))["state"]

    # What the provider answers to prompt=none when the user has no session there.
    response = await anonymous.get(
        API + "callback/", params={"error": "login_required", "state": state}
    )

    assert response.status_code == 302
    assert response.headers["location"] == RETURN_TO
    assert (await anonymous.get(API + "users/me/")).status_code == 401
    # The failed attempt can't be completed later.
    assert (
        await anonymous.get(API + "callback/", params={"code": "x", "state": state})
    ).status_code == 403


async def test_it_logs_out_and_sends_the_browser_to_the_providers_end_session(
    anonymous: Browser, idp: httpx.AsyncClient, provider: str
) -> None:
    back = await _sign_in_at_provider(idp, await _start(anonymous), "leaving")
    await anonymous.get(_local(back))
    assert (await anonymous.get(API + "users/me/")).status_code == 200

    response = await anonymous.get(API + "logout")

    assert response.status_code == 302
    assert response.headers["location"].startswith(provider + "/oauth2/end_session")
    assert (await anonymous.get(API + "users/me/")).status_code == 401


async def test_it_reports_the_login_methods_and_silent_login(anonymous: Browser) -> None:
    config = (await anonymous.get(API + "config/")).json()

    assert "oidc" in config["login_methods"]
    assert config["is_silent_login_enabled"] is True
