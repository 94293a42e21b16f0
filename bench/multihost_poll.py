"""Benchmark: request-entry polling through HAProxy over three hosts vs straight to one.

Starts the multi-host test bed (`tests/testbed/bed.py`: hosts 127.0.0.2/.3/.4, each
`antechamber serve --workers 2`, HAProxy with /readyz checks, its own PostgreSQL, a
6-node Redis Cluster), makes `--participants` waiting places in a trusted room through
the balancer, then runs `wrk --latency` with a Lua script cycling through their cookies,
first against HAProxy (spread over 3 hosts), then against host 1 directly.

Everything runs on the same 2-core machine: three hosts don't add cores, so this
measures the balancer's overhead (and the cost of six workers sharing two cores), not
how the service scales with hosts.

    uv run python bench/multihost_poll.py [--participants 300] [--duration 15s]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import create_places, parse_wrk, poll_script, wrk_poll
from tests.testbed.bed import start_bed


def trusted_room(url: str) -> str:
    import httpx

    with httpx.Client(base_url=url, timeout=10) as admin:
        admin.post("/api/v1.0/dev-login/", json={"email": "bench@example.com"}).raise_for_status()
        response = admin.post(
            "/api/v1.0/rooms/",
            json={"name": "bench", "access_level": "trusted"},
            headers={"X-CSRFToken": admin.cookies["csrftoken"]},
        )
        response.raise_for_status()
        return str(response.json()["slug"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=300)
    parser.add_argument("--duration", default="15s")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    bed = start_bed(
        ANTECHAMBER_LOG_LEVEL="warning",
        ANTECHAMBER_ACCESS_LOG="false",
        ANTECHAMBER_LOBBY_MAX_WAITING_PER_ROOM="20000",
    )
    results = {}
    try:
        slug = trusted_room(bed.url)
        path = f"/api/v1.0/rooms/{slug}/request-entry/"
        places = create_places(bed.url + path, args.participants)
        with tempfile.TemporaryDirectory() as tmp:
            script = poll_script(places, Path(tmp, "poll.lua"))
            targets = {
                "HAProxy -> 3 hosts x 2 workers": bed.url,
                "host 1 directly (2 workers)": bed.hosts[0].url,
            }
            for label, base in targets.items():
                output = wrk_poll(
                    script, base + path, args.threads, args.connections, args.duration
                )
                results[label] = parse_wrk(output)
    finally:
        bed.stop()

    print(
        f"POST request-entry, {args.participants} waiting participants polling, "
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}; development mode, "
        "access log off; PostgreSQL + 6-node Redis Cluster; all on one 2-core machine"
    )
    for label, numbers in results.items():
        print(
            f"{label}: {numbers['requests_per_s']} req/s, p50 {numbers['p50']}, "
            f"p99 {numbers['p99']}, non-2xx {numbers['non_2xx']} of {numbers['requests']}, "
            f"socket errors: {numbers['socket_errors']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
