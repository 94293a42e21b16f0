"""Metrics and JSON logs of `antechamber serve --workers 2`, as operators run it: the
counters of both workers add up whichever answers the scrape, and the log carries
request ids but never a cookie, token or secret."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LIVEKIT_SECRET, Backend, clean_backend
from tests.observability.test_metrics import METRICS_TOKEN, sample
from tests.serve_process import Served, serve_env

pytestmark = pytest.mark.postgres
CONFIG = "/api/v1.0/config/"
CLIENT_ID = "client-chosen.id-42"
STREAMS_TEST_ID = "streams-gauge-test"


@pytest.fixture(scope="module")
def served(postgres_backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    clean_backend(postgres_backend)
    log = tmp_path_factory.mktemp("served") / "serve.log"
    env = serve_env(
        postgres_backend.database_url,
        postgres_backend.redis_url or "",
        ANTECHAMBER_LOG_FORMAT="json",
        ANTECHAMBER_METRICS_TOKEN=METRICS_TOKEN,
    )
    server = Served(env, workers=2, log=log).start()
    try:
        yield server
    finally:
        server.stop()


def scrape(server: Served) -> str:
    # A new connection each time: either worker may answer.
    response = httpx.get(
        f"{server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert response.status_code == 200, response.text
    return response.text


def test_it_adds_up_both_workers_counters(served: Served) -> None:
    def count(text: str) -> float:
        return sample(
            text, "antechamber_http_requests_total", method="GET", route=CONFIG, status="200"
        )

    before = count(scrape(served))
    for _ in range(30):
        # New connections, so the kernel spreads them over both workers.
        with httpx.Client() as client:
            response = client.get(served.url + CONFIG)
            assert response.status_code == 200
    scrapes = [count(scrape(served)) for _ in range(6)]
    assert scrapes == [before + 30] * 6


def test_it_counts_open_event_streams_across_workers(served: Served) -> None:
    with (
        httpx.Client(base_url=served.url, timeout=10) as alice,
        httpx.Client(base_url=served.url, timeout=10) as guest,
    ):
        assert alice.post("/api/v1.0/dev-login/", json={"email": "alice@example.com"}).is_success
        csrf = {"X-CSRFToken": alice.cookies["csrftoken"]}
        room = alice.post(
            "/api/v1.0/rooms/", json={"name": "Streams", "access_level": "restricted"}, headers=csrf
        ).json()
        asked = guest.post(
            f"/api/v1.0/rooms/{room['id']}/request-entry/",
            json={},
            headers={"X-Request-ID": STREAMS_TEST_ID},  # not one of the log test's requests
        )
        assert asked.json()["status"] == "waiting", asked.text
        admin_url = f"/api/v1.0/rooms/{room['id']}/waiting-participants-events/"
        guest_url = f"/api/v1.0/rooms/{room['id']}/lobby-events/"
        with alice.stream("GET", admin_url) as stream, guest.stream("GET", guest_url) as waiting:
            # The iterators are kept: dropping one would close its stream.
            opened = [stream.iter_lines(), waiting.iter_lines()]
            for lines in opened:
                while not next(lines).startswith("data:"):
                    pass
            metrics = scrape(served)
            assert sample(metrics, "antechamber_event_streams_open", kind="admin") == 1
            assert sample(metrics, "antechamber_event_streams_open", kind="participant") == 1
    deadline = time.monotonic() + 10
    while any(
        sample(scrape(served), "antechamber_event_streams_open", kind=kind) != 0
        for kind in ("admin", "participant")
    ):
        assert time.monotonic() < deadline, "a closed stream is still counted"
        time.sleep(0.2)


def test_it_logs_json_with_request_ids_and_no_secret(served: Served) -> None:
    assert served.log is not None
    secrets: list[str] = [METRICS_TOKEN, LIVEKIT_SECRET, served.env["ANTECHAMBER_SECRET_KEY"]]
    with httpx.Client(base_url=served.url, timeout=10) as guest:
        owner = httpx.Client(base_url=served.url, timeout=10)
        assert owner.post("/api/v1.0/dev-login/", json={"email": "bob@example.com"}).is_success
        secrets += [owner.cookies["sessionid"], owner.cookies["csrftoken"]]
        csrf = {"X-CSRFToken": owner.cookies["csrftoken"], "X-Request-ID": CLIENT_ID}
        room = owner.post(
            "/api/v1.0/rooms/", json={"name": "Logged", "access_level": "trusted"}, headers=csrf
        ).json()
        entry = f"/api/v1.0/rooms/{room['slug']}/request-entry/"
        waiting = guest.post(entry, json={"username": "Guest"}).json()
        secrets.append(guest.cookies["lobbyParticipantId"])
        owner.post(
            f"/api/v1.0/rooms/{room['id']}/enter/",
            json={"participant_id": waiting["id"], "allow_entry": True},
            headers={"X-CSRFToken": owner.cookies["csrftoken"]},
        )
        accepted = guest.post(entry, json={"username": "Guest"}).json()
        secrets.append(accepted["livekit"]["token"])
        # A query string (where OIDC codes travel) and a forged request id.
        guest.get("/api/v1.0/callback/?code=the-authorization-code-xyz&state=the-state-xyz")
        secrets += ["the-authorization-code-xyz", "the-state-xyz"]
        forged_id = 'evil" "status":500 ' + "x" * 200
        forged = guest.get(CONFIG, headers={"X-Request-ID": forged_id})
        assert forged.headers["x-request-id"] != forged_id
        secrets.append(forged_id)
        echoed = guest.get(CONFIG, headers={"X-Request-ID": CLIENT_ID})
        assert echoed.headers["x-request-id"] == CLIENT_ID
        scrape(served)
        owner.close()
    deadline = time.monotonic() + 5
    text = ""
    while CLIENT_ID not in text or "request-entry" not in text:
        assert time.monotonic() < deadline, text[-2000:]
        time.sleep(0.2)
        text = Path(served.log).read_text()

    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    access = [r for r in records if r["logger"] == "antechamber.access"]
    assert access, text[-2000:]
    for record in access:
        assert {"time", "level", "message", "request_id", "route", "status", "duration_ms"} <= set(
            record
        ), record
        assert isinstance(record["status"], int)
    entries = [
        r
        for r in access
        if r["route"] == "/api/v1.0/rooms/{room_key}/request-entry/"
        and r["request_id"] != STREAMS_TEST_ID
    ]
    assert [r["status"] for r in entries] == [200, 200]
    generated = [
        r["request_id"] for r in access if r["request_id"] not in (CLIENT_ID, STREAMS_TEST_ID)
    ]
    mine = [r for r in access if r["request_id"] != STREAMS_TEST_ID]
    assert len(set(generated)) == len(generated) == len(mine) - 2
    assert any(r["request_id"] == CLIENT_ID and r["route"] == CONFIG for r in access)
    for secret in secrets:
        assert secret
        assert secret not in text, f"a secret reached the log: {secret[:6]}..."
    assert "/metrics" not in {r.get("path") for r in access}


def _access_clients(log: Path, request_id: str) -> list[str]:
    clients = []
    for line in log.read_text().splitlines():
        record = json.loads(line)
        if record.get("logger") == "antechamber.access" and record["request_id"] == request_id:
            clients.append(record["client"])
    return clients


def _wait_for(log: Path, request_id: str) -> list[str]:
    deadline = time.monotonic() + 5
    while not (clients := _access_clients(log, request_id)):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return clients


def test_it_takes_the_client_address_from_a_trusted_proxy_only(
    served: Served, postgres_backend: Backend, tmp_path: Path
) -> None:
    assert served.log is not None
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Request-ID": "forwarded-1"}
    # `serve` trusts 127.0.0.1 by default: the proxy's header names the client.
    assert httpx.get(served.url + CONFIG, headers=forwarded).status_code == 200
    assert _wait_for(served.log, "forwarded-1") == ["203.0.113.7"]

    log = tmp_path / "untrusting.log"
    env = serve_env(
        postgres_backend.database_url,
        postgres_backend.redis_url or "",
        ANTECHAMBER_LOG_FORMAT="json",
    )
    other = Served(env, log=log, extra_args=("--forwarded-allow-ips", "192.0.2.1")).start()
    try:
        forwarded["X-Request-ID"] = "forwarded-2"
        assert httpx.get(other.url + CONFIG, headers=forwarded).status_code == 200
        assert _wait_for(log, "forwarded-2") == ["127.0.0.1"]
    finally:
        other.stop()
