"""What a served worker imports, and its RSS: the memory target's diagnosis.

Runs `antechamber serve --workers 1` (production mode, PostgreSQL + Redis as the other
benchmarks, 127.0.0.1 only) with `PYTHONPROFILEIMPORTTIME=1`, serves the hot paths a few
times (a public room's GET, request-entry polls of a trusted room), then prints the
worker's RSS and every top-level package it imported, heaviest import time first, with
its module count. A package listed here is in every worker's memory.

    uv run python bench/worker_imports.py            # the top 25 packages
    uv run python bench/worker_imports.py --all      # every package
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import tempfile
import urllib.request
from collections import defaultdict
from pathlib import Path

from common import API, create_room, flush_redis, migrate, production_env, rss_mib, serve

# `import time: self [us] | cumulative | imported package`, indented by nesting.
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def _request(url: str, method: str = "GET", cookie: str = "") -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if cookie:
        headers["Cookie"] = cookie
    data = b"{}" if method == "POST" else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        cookies = response.headers.get_all("Set-Cookie") or []
        lobby = [c.split(";", 1)[0] for c in cookies if c.startswith("lobbyParticipantId=")]
        return response.status, lobby[0] if lobby else cookie


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="every package, not the top 25")
    args = parser.parse_args()
    env = production_env(rate_limit_per_minute=100_000)
    migrate(env)
    flush_redis()
    public = asyncio.run(create_room(env, access_level="public"))
    trusted = asyncio.run(create_room(env, access_level="trusted"))
    env["PYTHONPROFILEIMPORTTIME"] = "1"
    log = Path(tempfile.mkdtemp(prefix="antechamber-imports-")) / "serve.log"
    try:
        with serve(env, workers=1, log=log) as server:
            statuses: dict[int, int] = defaultdict(int)
            for _ in range(20):
                statuses[_request(f"{server.base}{API}/rooms/{public.slug}/")[0]] += 1
            cookie = ""
            for _ in range(20):
                url = f"{server.base}{API}/rooms/{trusted.slug}/request-entry/"
                status, cookie = _request(url, "POST", cookie)
                statuses[status] += 1
            rss = rss_mib(server.pid)
    finally:
        flush_redis()
    packages: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for line in log.read_text(errors="replace").splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        top = match.group(4).split(".")[0]
        packages[top][0] += int(match.group(1))
        packages[top][1] += 1
    ranked = sorted(packages.items(), key=lambda item: -item[1][0])
    print(f"worker RSS after {dict(statuses)} answers: {rss:.1f} MiB")
    print(f"{sum(n for _, n in packages.values())} modules in {len(packages)} top-level packages")
    print(f"{'package':32s} {'import ms':>10s} {'modules':>8s}")
    for name, (micros, count) in ranked if args.all else ranked[:25]:
        print(f"{name:32s} {micros / 1000:10.1f} {count:8d}")
    print(json.dumps({"rss_mib": round(rss, 1), "packages": sorted(packages)}))


if __name__ == "__main__":
    main()
