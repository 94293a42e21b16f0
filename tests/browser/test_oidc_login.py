"""Logging in from the home page through the configured OpenID provider (oidc-provider-mock
on loopback, its own login form), back to the home page signed in, able to create a
meeting."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import expect

from antechamber.settings import OIDCSettings
from tests.browser.conftest import PersonFactory, Site
from tests.oidc_provider import oidc_provider

# The provider (not our code) calls an Authlib API deprecated in favour of a newer one.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    with oidc_provider() as issuer:
        yield issuer


@pytest.fixture(scope="module")
def site_overrides(provider: str) -> dict[str, Any]:
    return {
        "dev_login_enabled": False,
        "oidc": OIDCSettings(
            issuer=provider, client_id="antechamber-test", client_secret="test-client-secret"
        ),
    }


async def test_log_in_with_the_provider_from_the_home_page(
    site: Site, people: PersonFactory
) -> None:
    person = await people("user")
    page = person.page
    await page.goto("/")
    await expect(page.get_by_label("Email (development login)")).to_have_count(0)
    await person.axe("home, OpenID login")
    await person.shot("01-home")
    await page.get_by_role("link", name="Log in").click()
    await page.locator("input[name=sub]").fill("olivia")
    await person.shot("02-provider")
    await page.locator("input[name=sub]").press("Enter")
    await expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    assert page.url.startswith(site.url)
    me = await page.request.get("/api/v1.0/users/me/")
    assert me.status == 200
    await page.get_by_label("Meeting name").fill("After login")
    await page.get_by_role("button", name="Create meeting").click()
    await expect(page.get_by_role("heading", name="After login", level=1)).to_be_visible()
    await person.shot("03-signed-in")
