"""Three `antechamber serve` processes on one PostgreSQL and one Redis tell a waiting
participant one consistent story, whichever process each call reaches."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LIVEKIT_KEY, LIVEKIT_SECRET, Backend, clean_backend
from tests.livekit_helpers import verify
from tests.servers import free_port, serve_env, serving
from tests.visitors import Visitor

WAITING_TIMEOUT_S = 6
POLL_INTERVAL_S = 2


class Cluster:
    def __init__(self, ports: list[int]) -> None:
        self.urls = [f"http://127.0.0.1:{port}" for port in ports]


@pytest.fixture(scope="module")
def cluster(
    postgres_backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    clean_backend(postgres_backend)
    env = serve_env(
        postgres_backend.database_url,
        postgres_backend.redis_url,
        ANTECHAMBER_SECRET_KEY="multi-process-test-secret-0123456789abcdef",
        ANTECHAMBER_LOBBY_WAITING_TIMEOUT_S=str(WAITING_TIMEOUT_S),
        ANTECHAMBER_LOBBY_POLL_INTERVAL_S=str(POLL_INTERVAL_S),
        ANTECHAMBER_LOBBY_RATE_LIMIT_PER_MINUTE="0",
        # A LiveKit nobody listens on: the lobby must work without it.
        LIVEKIT_URL=f"ws://127.0.0.1:{free_port()}",
        LIVEKIT_API_KEY=LIVEKIT_KEY,
        LIVEKIT_API_SECRET=LIVEKIT_SECRET,
        LIVEKIT_TIMEOUT_S="0.5",
    )
    with serving(env, tmp_path_factory.mktemp("cluster"), count=3) as processes:
        yield Cluster([process.port for process in processes])


async def _restricted_room(admin: Visitor, base: str) -> dict[str, Any]:
    login = await admin.request(
        "POST", f"{base}/api/v1.0/dev-login/", {"email": "alice@example.com"}
    )
    assert login.status_code == 200, login.text
    created = await admin.request(
        "POST",
        f"{base}/api/v1.0/rooms/",
        {"name": f"mp-{random.random()}", "access_level": "restricted"},
    )
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


async def _first_event(response: httpx.Response, status: str) -> dict[str, Any]:
    async for line in response.aiter_lines():
        if line.startswith("data: "):
            event = json.loads(line[len("data: ") :])
            if event["status"] == status:
                return event  # type: ignore[no-any-return]
    raise AssertionError(f"the stream ended without a {status} event")


async def test_it_tells_one_story_across_three_processes(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    one, two, three = cluster.urls
    admin, guest = Visitor(http), Visitor(http)
    room = await _restricted_room(admin, one)
    asked = await guest.request(
        "POST", f"{one}/api/v1.0/rooms/{room['slug']}/request-entry/", {"username": "Ann"}
    )
    assert asked.json()["status"] == "waiting"
    guest_id = asked.json()["id"]

    async with guest.stream(f"{one}/api/v1.0/rooms/{room['id']}/lobby-events/") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        listening = asyncio.create_task(_first_event(stream, "accepted"))
        listed = await admin.request(
            "GET", f"{two}/api/v1.0/rooms/{room['id']}/waiting-participants/"
        )
        assert [p["id"] for p in listed.json()["participants"]] == [guest_id]
        decided = await admin.request(
            "POST",
            f"{two}/api/v1.0/rooms/{room['id']}/enter/",
            {"participant_id": guest_id, "allow_entry": True},
        )
        assert decided.status_code == 200, decided.text
        pushed = await asyncio.wait_for(listening, 10)

    polled = await guest.request(
        "POST", f"{three}/api/v1.0/rooms/{room['id']}/request-entry/", {"username": "Ann"}
    )
    assert polled.json()["status"] == "accepted"
    for body in (pushed, polled.json()):
        assert body["id"] == guest_id
        claims = verify(body["livekit"]["token"])
        assert claims.identity == guest_id
        assert claims.video is not None
        assert claims.video.room == room["id"]


async def test_it_lets_one_of_many_conflicting_decisions_win_across_processes(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    admin = Visitor(http)
    room = await _restricted_room(admin, cluster.urls[0])
    for _ in range(3):
        guest = Visitor(http)
        asked = await guest.request(
            "POST", f"{cluster.urls[0]}/api/v1.0/rooms/{room['id']}/request-entry/", {}
        )
        assert asked.status_code == 200, asked.text
        guest_id = asked.json()["id"]
        wanted = [random.choice([True, False]) for _ in range(30)]
        responses = await asyncio.gather(
            *(
                admin.request(
                    "POST",
                    f"{cluster.urls[i % 3]}/api/v1.0/rooms/{room['id']}/enter/",
                    {"participant_id": guest_id, "allow_entry": allow},
                )
                for i, allow in enumerate(wanted)
            )
        )
        winners = {
            allow for allow, r in zip(wanted, responses, strict=True) if r.status_code == 200
        }
        losers = {allow for allow, r in zip(wanted, responses, strict=True) if r.status_code == 409}
        assert all(r.status_code in (200, 409) for r in responses)
        assert len(winners) == 1
        assert winners.isdisjoint(losers)
        final = (
            await guest.request(
                "POST", f"{cluster.urls[2]}/api/v1.0/rooms/{room['id']}/request-entry/", {}
            )
        ).json()
        assert final["status"] == ("accepted" if winners == {True} else "denied")


async def test_it_keeps_a_place_that_polls_at_the_documented_interval(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    admin, patient, gone = Visitor(http), Visitor(http), Visitor(http)
    room = await _restricted_room(admin, cluster.urls[0])
    path = f"/api/v1.0/rooms/{room['id']}/request-entry/"
    first = await patient.request("POST", cluster.urls[0] + path, {})
    assert first.status_code == 200, first.text
    patient_id = first.json()["id"]
    await gone.request("POST", cluster.urls[1] + path, {})
    deadline = time.monotonic() + WAITING_TIMEOUT_S * 1.5
    turn = 0
    while time.monotonic() < deadline:
        await asyncio.sleep(POLL_INTERVAL_S)
        turn += 1
        response = await patient.request("POST", cluster.urls[turn % 3] + path, {})
        body = response.json()
        assert body.get("status") == "waiting", (response.status_code, body)
        assert body["id"] == patient_id
    listed = await admin.request(
        "GET", f"{cluster.urls[2]}/api/v1.0/rooms/{room['id']}/waiting-participants/"
    )
    assert [p["id"] for p in listed.json()["participants"]] == [patient_id]


async def _next_event(lines: AsyncIterator[str]) -> tuple[str, dict[str, Any]]:
    name = "message"
    async for line in lines:
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            return name, json.loads(line[len("data: ") :])
    raise AssertionError("the stream ended")


async def test_it_streams_arrivals_and_decisions_to_admins_on_another_process(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    admin, guest = Visitor(http), Visitor(http)
    one, two, three = cluster.urls
    room = await _restricted_room(admin, one)
    events_url = f"{three}/api/v1.0/rooms/{room['id']}/waiting-participants-events/"
    async with admin.stream(events_url) as stream:
        lines = stream.aiter_lines()
        assert await asyncio.wait_for(_next_event(lines), 10) == (
            "participants",
            {"participants": []},
        )
        asked = await guest.request(
            "POST", f"{one}/api/v1.0/rooms/{room['id']}/request-entry/", {"username": "Ann"}
        )
        assert asked.status_code == 200, asked.text
        guest_id = asked.json()["id"]
        name, arrived = await asyncio.wait_for(_next_event(lines), 10)
        assert name == "participant"
        assert (arrived["id"], arrived["status"], arrived["username"]) == (
            guest_id,
            "waiting",
            "Ann",
        )
        await admin.request(
            "POST",
            f"{two}/api/v1.0/rooms/{room['id']}/enter/",
            {"participant_id": guest_id, "allow_entry": False},
        )
        name, decided = await asyncio.wait_for(_next_event(lines), 10)
        assert (name, decided["id"], decided["status"]) == ("participant", guest_id, "denied")
    async with guest.stream(events_url) as refused:
        assert refused.status_code == 401


async def test_it_answers_both_tabs_of_a_participant_and_no_one_else(
    cluster: Cluster, http: httpx.AsyncClient
) -> None:
    one, two, _ = cluster.urls
    admin, guest, other = Visitor(http), Visitor(http), Visitor(http)
    room = await _restricted_room(admin, one)
    path = f"/api/v1.0/rooms/{room['id']}/request-entry/"
    asked = await guest.request("POST", one + path, {"username": "Ann"})
    assert asked.json()["status"] == "waiting"
    guest_id = asked.json()["id"]
    assert (await other.request("POST", one + path, {"username": "Bob"})).json()[
        "status"
    ] == "waiting"
    events_url = f"{one}/api/v1.0/rooms/{room['id']}/lobby-events/"
    async with (
        guest.stream(events_url) as first_tab,
        guest.stream(events_url) as second_tab,
        other.stream(events_url) as other_tab,
    ):
        tabs = [
            asyncio.create_task(_first_event(tab, "accepted")) for tab in (first_tab, second_tab)
        ]
        others = asyncio.create_task(_next_event(other_tab.aiter_lines()))
        # Each stream's opening event says where it stands, so all three are subscribed.
        assert (await asyncio.wait_for(others, 10))[1]["status"] == "waiting"
        decided = await admin.request(
            "POST",
            f"{two}/api/v1.0/rooms/{room['id']}/enter/",
            {"participant_id": guest_id, "allow_entry": True},
        )
        assert decided.status_code == 200, decided.text
        pushed = await asyncio.wait_for(asyncio.gather(*tabs), 10)
    for body in pushed:
        assert body["id"] == guest_id
        assert verify(body["livekit"]["token"]).identity == guest_id
    still = await other.request("POST", two + path, {"username": "Bob"})
    assert still.json()["status"] == "waiting"
