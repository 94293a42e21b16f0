"""What a served worker imports, and its RSS: the memory target's diagnosis.

Runs `antechamber serve` (production mode, PostgreSQL + Redis as the other benchmarks,
127.0.0.1 only; one worker by default, which then serves in the `serve` process itself)
with `PYTHONPROFILEIMPORTTIME=1`, serves the hot paths (a public room's GET,
request-entry polls of a trusted room), then prints the worker's RSS, where that RSS
is (`/proc/<pid>/smaps`: Python's heap and arenas, and each shared library), and every
top-level package it imported, heaviest import time first, with its module count. A
package listed here is in every worker's memory.

With `--livekit`, a livekit-server runs on loopback with its webhooks sent to the
service, the reconciler's full pass runs every 2 s, and after the hot paths the bench
creates the public room in LiveKit (LiveKit sends `room_started`), POSTs `mute-all` as
the room's owner (a moderation call: ListParticipants), waits for a reconciler pass
(ListRooms, ListParticipants) and deletes the room (`room_finished`): the RSS is
printed again, the figure a production worker reaches once it has talked to LiveKit.
The webhook deliveries and LiveKit calls the worker counted are printed (its
/metrics), so a run where they didn't happen shows.

Whether the modules were loaded from compiled bytecode matters (about 6 MiB per worker:
bench/README.md, "Worker memory"); the first line says how many of the imported
modules' files had no up-to-date `.pyc` (compiled on every start instead).

    uv run python bench/worker_imports.py            # the top 25 packages
    uv run python bench/worker_imports.py --all      # every package
    uv run python bench/worker_imports.py --workers 2 --livekit
    uv run python bench/worker_imports.py --oidc     # OIDC configured: its client loaded
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import re
import secrets
import sys
import tempfile
import urllib.request
from collections import defaultdict
from pathlib import Path

from common import (
    API,
    BenchRoom,
    admin_cookie_headers,
    create_room,
    create_session,
    flush_redis,
    free_port,
    livekit_server,
    migrate,
    production_env,
    serve,
    worker_rss,
)

# `import time: self [us] | cumulative | imported package`, indented by nesting.
_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
METRICS_TOKEN = secrets.token_urlsafe(24)


def _request(
    url: str, method: str = "GET", cookie: str = "", headers: dict[str, str] | None = None
) -> tuple[int, str]:
    sent = {"Content-Type": "application/json", **(headers or {})}
    if cookie:
        sent["Cookie"] = cookie
    data = b"{}" if method == "POST" else None
    request = urllib.request.Request(url, data=data, method=method, headers=sent)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            cookies = response.headers.get_all("Set-Cookie") or []
            lobby = [c.split(";", 1)[0] for c in cookies if c.startswith("lobbyParticipantId=")]
            return response.status, lobby[0] if lobby else cookie
    except urllib.error.HTTPError as error:
        return error.code, cookie


def smaps(pid: int) -> dict[str, float]:
    """RSS (MiB) per mapping name: [heap], anonymous mappings (Python's arenas, other
    malloc'ed blocks), and each file (shared libraries by package)."""
    groups: dict[str, float] = defaultdict(float)
    name = "[anon]"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        parts = line.split()
        if parts and "-" in parts[0] and ":" not in parts[0]:
            path = parts[5] if len(parts) > 5 else "[anon]"
            if "site-packages/" in path:
                path = path.split("site-packages/", 1)[1].split("/", 1)[0]
            elif path.startswith("/"):
                path = Path(path).name
            name = path
        elif parts and parts[0] == "Rss:":
            groups[name] += int(parts[1]) / 1024
    return groups


def uncompiled(modules: list[str]) -> int:
    """How many of these modules' source files have no up-to-date .pyc."""
    count = 0
    for name in modules:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.origin or not spec.origin.endswith(".py"):
            continue
        source = Path(spec.origin)
        cached = Path(importlib.util.cache_from_source(str(source)))
        if not cached.exists() or cached.stat().st_mtime < source.stat().st_mtime:
            count += 1
    return count


def metric_totals(base: str) -> dict[str, float]:
    """Webhook deliveries and LiveKit calls the worker counted, by label set."""
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    request = urllib.request.Request(base + "/metrics", headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        text = response.read().decode()
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(("antechamber_webhook_events_total", "antechamber_livekit_calls_total")):
            labels, value = line.rsplit(" ", 1)
            totals[labels] = float(value)
    return totals


async def talk_to_livekit(base: str, env: dict[str, str], room: BenchRoom) -> int:
    """The room goes live in LiveKit (a room_started webhook), its owner mutes all (a
    moderation call), then it ends (room_finished). Returns mute-all's status."""
    from livekit import api

    livekit = api.LiveKitAPI(
        env["LIVEKIT_URL"].replace("ws://", "http://"),
        env["LIVEKIT_API_KEY"],
        env["LIVEKIT_API_SECRET"],
    )
    try:
        await livekit.room.create_room(api.CreateRoomRequest(name=str(room.id)))
        admin = admin_cookie_headers(await create_session(room.owner_id))
        url = f"{base}{API}/rooms/{room.id}/mute-all/"
        status, _ = await asyncio.to_thread(_request, url, "POST", admin["Cookie"], admin)
        await asyncio.sleep(3)  # a reconciler pass (every 2 s here)
        await livekit.room.delete_room(api.DeleteRoomRequest(room=str(room.id)))
        await asyncio.sleep(1)  # room_finished delivered
        return status
    finally:
        await livekit.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="every package, not the top 25")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--livekit", action="store_true", help="then a webhook and a moderation call"
    )
    parser.add_argument(
        "--oidc", action="store_true", help="with OIDC configured (an issuer never contacted)"
    )
    args = parser.parse_args()
    env = production_env(rate_limit_per_minute=100_000)
    env["ANTECHAMBER_METRICS_TOKEN"] = METRICS_TOKEN
    if args.oidc:
        # Its discovery document is fetched at the first login only: none happens here.
        env["ANTECHAMBER_OIDC_ISSUER"] = f"http://127.0.0.1:{free_port()}"
        env["ANTECHAMBER_OIDC_CLIENT_ID"] = "bench"
        env["ANTECHAMBER_OIDC_CLIENT_SECRET"] = secrets.token_urlsafe(24)
    folder = Path(tempfile.mkdtemp(prefix="antechamber-imports-"))
    livekit_port = free_port()
    if args.livekit:
        env["LIVEKIT_URL"] = f"ws://127.0.0.1:{livekit_port}"
        env["ANTECHAMBER_RECONCILE_INTERVAL_S"] = "2"
    migrate(env)
    flush_redis()
    public = asyncio.run(create_room(env, access_level="public"))
    trusted = asyncio.run(create_room(env, access_level="trusted"))
    env["PYTHONPROFILEIMPORTTIME"] = "1"
    log = folder / "serve.log"
    lines: list[str] = []
    try:
        with serve(env, workers=args.workers, log=log) as server:
            statuses: dict[int, int] = defaultdict(int)
            for _ in range(20 * args.workers):
                statuses[_request(f"{server.base}{API}/rooms/{public.slug}/")[0]] += 1
            cookie = ""
            for _ in range(20 * args.workers):
                url = f"{server.base}{API}/rooms/{trusted.slug}/request-entry/"
                status, cookie = _request(url, "POST", cookie)
                statuses[status] += 1
            rss = worker_rss(server)
            figures = " / ".join(f"{mib:.1f}" for mib in rss.values())
            lines.append(f"worker RSS after {dict(statuses)} answers: {figures} MiB")
            first = next(iter(rss))
            where = sorted(smaps(first).items(), key=lambda item: -item[1])
            top = ", ".join(f"{name} {mib:.1f}" for name, mib in where[:12])
            lines.append(f"where (MiB, worker {first}): {top}")
            if args.livekit:
                hook = f"{server.base}{API}/rooms/webhooks-livekit/"
                key, secret = env["LIVEKIT_API_KEY"], env["LIVEKIT_API_SECRET"]
                with livekit_server(folder / "livekit", livekit_port, key, secret, hook):
                    muted = asyncio.run(talk_to_livekit(server.base, env, public))
                after = worker_rss(server)
                figures = " / ".join(f"{mib:.1f}" for mib in after.values())
                lines.append(f"worker RSS after LiveKit's webhooks, mute-all ({muted}): {figures}")
                counted = metric_totals(server.base)
                lines.append("counted: " + json.dumps(counted))
    finally:
        flush_redis()
    packages: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    modules: list[str] = []
    for line in log.read_text(errors="replace").splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        modules.append(match.group(4))
        top_level = match.group(4).split(".")[0]
        packages[top_level][0] += int(match.group(1))
        packages[top_level][1] += 1
    ranked = sorted(packages.items(), key=lambda item: -item[1][0])
    distinct = sorted(set(modules))
    served_by = "all serving processes" if args.workers > 1 else "one process"
    print(
        f"{len(distinct)} modules imported ({served_by}), {uncompiled(distinct)} of them without "
        f"an up-to-date .pyc (compiled from source at start); Python {sys.version.split()[0]}"
    )
    print("\n".join(lines))
    print(f"{len(distinct)} modules in {len(packages)} top-level packages; import log: {log}")
    print(f"{'package':32s} {'import ms':>10s} {'modules':>8s}")
    for name, (micros, count) in ranked if args.all else ranked[:25]:
        print(f"{name:32s} {micros / 1000:10.1f} {count:8d}")
    figures_mib = [round(v, 1) for v in rss.values()]
    print(json.dumps({"rss_mib": figures_mib, "packages": sorted(packages)}))


if __name__ == "__main__":
    main()
