"""Two `antechamber serve` processes on one PostgreSQL and one Redis: an administrator
demoted through one is refused the waiting list by the other on his very next poll,
although that process had just found (and keeps, 2 s) his role.

The in-process version of each change is tests/rooms/test_admin_cache.py; this one runs
the real thing: uvicorn's event loop, the broker's pub/sub reader, real sockets."""

from __future__ import annotations

import random
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Backend, clean_backend
from tests.servers import serve_env, serving
from tests.visitors import Visitor

API = "/api/v1.0"
ROUNDS = 5


@pytest.fixture(scope="module")
def two(postgres_backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    clean_backend(postgres_backend)
    env = serve_env(postgres_backend.database_url, postgres_backend.redis_url)
    with serving(env, tmp_path_factory.mktemp("two"), count=2) as processes:
        yield [f"http://127.0.0.1:{process.port}" for process in processes]


async def test_a_demoted_administrator_is_refused_by_the_other_process_at_once(
    two: list[str], http: httpx.AsyncClient
) -> None:
    one, other = two
    alice, bob = Visitor(http, one), Visitor(http, one)
    await alice.login("alice@example.com")
    bob_id = (await bob.login("bob@example.com"))["id"]
    created = await alice.request(
        "POST", f"{API}/rooms/", {"name": f"served-{random.random()}", "access_level": "trusted"}
    )
    assert created.status_code == 201, created.text
    room = created.json()
    granted = await alice.request(
        "POST",
        f"{API}/resource-accesses/",
        {"resource": room["id"], "user": bob_id, "role": "member"},
    )
    assert granted.status_code == 201, granted.text
    access = f"{API}/resource-accesses/{granted.json()['id']}/"
    bob_there = Visitor(http, other)
    bob_there.cookies = bob.cookies  # one browser, behind one load balancer
    url = f"{API}/rooms/{room['slug']}/waiting-participants/"

    for _ in range(ROUNDS):
        promoted = await alice.request("PATCH", access, {"role": "administrator"})
        assert promoted.status_code == 200, promoted.text
        assert (await bob_there.request("GET", url)).status_code == 200
        assert (await bob_there.request("GET", url)).status_code == 200  # from its cache

        demoted = await alice.request("PATCH", access, {"role": "member"})
        assert demoted.status_code == 200, demoted.text
        refused = await bob_there.request("GET", url)
        assert refused.status_code == 403, refused.text
