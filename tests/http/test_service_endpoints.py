"""Liveness, readiness, the front end's configuration, the schema, and paths without
their trailing slash."""

from __future__ import annotations

import re

import pytest

from antechamber.settings import FrontendSettings, RedisSettings
from tests.conftest import Browser
from tests.helpers import API, ROOMS, create_room
from tests.servers import closed_port


async def test_it_says_it_is_alive(anonymous: Browser) -> None:
    response = await anonymous.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_it_says_it_is_ready_when_its_dependencies_answer(anonymous: Browser) -> None:
    response = await anonymous.get("/readyz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize(
    "settings_overrides",
    [{"redis": RedisSettings(url=f"redis://127.0.0.1:{closed_port()}/0")}],
)
async def test_it_names_redis_when_redis_does_not_answer(anonymous: Browser) -> None:
    response = await anonymous.get("/readyz")

    assert response.status_code == 503
    assert response.json()["failed"] == ["redis"]
    assert (await anonymous.get("/healthz")).status_code == 200


async def test_it_reports_every_front_end_setting(anonymous: Browser) -> None:
    response = await anonymous.get(API + "config/")

    assert response.status_code == 200
    config = response.json()
    assert set(config["livekit"]) >= {
        "url",
        "force_wss_protocol",
        "enable_firefox_proxy_workaround",
        "default_sources",
    }
    assert config["livekit"]["url"] == "ws://127.0.0.1:7880"
    assert config["subtitle"] == {"enabled": False}
    assert config["telephony"] == {"enabled": False}
    assert config["recording"]["is_enabled"] is False
    assert config["recording"]["available_modes"] == []
    assert config["background_image"]["upload_is_enabled"] is False
    assert config["background_image"]["max_size"] == 2 * 1024 * 1024
    assert config["diagnostics"] == {"connection_test_enabled": False}
    assert config["resource"] == {"default_access_level": "public"}
    assert config["authenticated_users_can_edit_display_name"] is True
    assert config["is_silent_login_enabled"] is False  # no OpenID provider configured here
    # La Suite Meet's backend defaults: the front end mutes joiners past the threshold.
    assert config["max_participants_for_sound"] == 5
    assert config["auto_mute_on_join_threshold"] == 50
    assert config["feedback"] == {}
    assert config["use_french_gov_footer"] is False
    assert config["custom_css_url"] is None
    assert config["lobby"] == {"waiting_timeout_s": 90, "poll_interval_s": 5, "events": True}
    assert config["login_methods"] == ["dev"]


@pytest.mark.parametrize(
    "settings_overrides",
    [{"default_access_level": "trusted", "authenticated_users_can_edit_display_name": False}],
)
async def test_it_reports_the_configured_values(anonymous: Browser) -> None:
    config = (await anonymous.get(API + "config")).json()

    assert config["resource"] == {"default_access_level": "trusted"}
    assert config["authenticated_users_can_edit_display_name"] is False


async def test_it_serves_its_openapi_schema_and_docs(anonymous: Browser) -> None:
    schema = await anonymous.get(API + "openapi.json")
    docs = await anonymous.get(API + "docs")

    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/v1.0/rooms/", "/api/v1.0/rooms/{room_key}/", "/api/v1.0/users/me/"):
        assert path in paths
    operation_ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))
    assert {"put", "patch"} <= set(paths["/api/v1.0/users/{user_id}/"])
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_it_reaches_the_same_endpoint_without_the_trailing_slash(
    alice: Browser, anonymous: Browser
) -> None:
    room = await create_room(alice, "Slashless")

    assert (await anonymous.get(API + "users/me")).status_code == 401
    assert (await alice.get(API + "users/me")).json()["email"] == "alice@example.com"
    assert (await anonymous.get(f"{ROOMS}{room['slug']}")).json()["id"] == room["id"]
    assert (await alice.get(API + "rooms")).json()["count"] == 1
    assert (
        await alice.patch(f"{ROOMS}{room['slug']}", json={"name": "Renamed"})
    ).status_code == 200
    logout = await alice.get(API + "logout")
    assert logout.status_code == 302
    assert (await alice.get(API + "users/me")).status_code == 401


async def test_it_never_shows_a_stack_trace(anonymous: Browser) -> None:
    response = await anonymous.post(
        ROOMS, content=b"\xff\xfe", headers={"content-type": "application/json"}
    )

    assert response.status_code in (400, 401)
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "settings_overrides",
    [{"frontend": FrontendSettings(max_participants_for_sound=12, auto_mute_on_join_threshold=0)}],
)
async def test_it_reports_the_configured_front_end_thresholds(anonymous: Browser) -> None:
    config = (await anonymous.get(API + "config/")).json()

    assert config["max_participants_for_sound"] == 12
    assert config["auto_mute_on_join_threshold"] == 0


async def test_it_documents_400_not_a_422_that_never_happens(anonymous: Browser) -> None:
    schema = (await anonymous.get(API + "openapi.json")).json()

    operations = [op for item in schema["paths"].values() for op in item.values()]
    assert all("422" not in op["responses"] for op in operations)
    entry = schema["paths"]["/api/v1.0/rooms/{room_key}/request-entry/"]["post"]
    assert {"400", "403", "404", "409", "413", "429", "503"} <= set(entry["responses"])
    assert "Retry-After" in entry["responses"]["429"]["headers"]
    bad = entry["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][bad.rsplit("/", 1)[1]]
    assert body["type"] == "object"
    assert {"type": "array", "items": {"type": "string"}} in body["additionalProperties"]["anyOf"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    me = schema["paths"]["/api/v1.0/users/me/"]["get"]["responses"]
    assert set(me) == {"200", "401", "503"}


async def test_it_takes_a_missing_body_as_empty_where_every_field_is_optional(
    alice: Browser, anonymous: Browser
) -> None:
    room = await create_room(alice, "No body")
    schema = (await anonymous.get(API + "openapi.json")).json()
    entry = schema["paths"]["/api/v1.0/rooms/{room_key}/request-entry/"]["post"]

    assert entry["requestBody"].get("required", False) is False
    answer = await anonymous.post(f"{ROOMS}{room['id']}/request-entry/")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "accepted"
    patched = await alice.patch(f"{ROOMS}{room['id']}/")
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "No body"


@pytest.mark.parametrize("page", ["docs", "redoc"])
async def test_it_serves_its_docs_from_its_own_files(anonymous: Browser, page: str) -> None:
    html = (await anonymous.get(API + page)).text

    assert "cdn" not in html.lower()
    scripts = re.findall(r'<script src="([^"]+)"', html)
    styles = re.findall(r'<link[^>]+href="([^"]+\.css)"', html)
    assert scripts
    for url in scripts + styles:
        assert url.startswith(API + "docs/static/"), url
        asset = await anonymous.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 10_000


async def test_it_lists_every_method_of_a_path_in_a_405(anonymous: Browser) -> None:
    response = await anonymous.request("OPTIONS", ROOMS)

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
