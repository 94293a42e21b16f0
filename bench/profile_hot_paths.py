"""Where the time of the two hottest paths goes, under pyinstrument:

  poll  POST request-entry by --places distinct waiting participants (trusted room,
        anonymous), cycled: the steady poll of people waiting
  room  GET rooms/{slug}/ of a public room by an anonymous returning visitor (a LiveKit
        token minted each time)
  waiting  GET waiting-participants by the room's owner (a login session made with the
        service's SessionService) with --places people waiting (made through the store):
        the admins' poll

The ASGI app is called in this process (no sockets, no HTTP parser, no uvicorn: the app's
own cost), sequentially, with production settings on PostgreSQL antechamber_bench and
Redis db 10, after a warm-up. For each path it prints the cost per request (under the
profiler, and timed without it), with --tree pyinstrument's call tree, the top frames
by self time (wall-clock samples: a system call stretched by a busy machine counts too)
and self time summed per package; it writes
pyinstrument's HTML view (an interactive flame-like tree) to --out. Flushes Redis db 10.

    uv run --group bench python bench/profile_hot_paths.py [poll] [room] [waiting]
        [--requests 2000] [--places 1000] [--out bench/results] [--tree]

With --flame SECONDS it instead records py-spy flame graphs under real load: a served
`antechamber serve --workers 2` (production mode, 127.0.0.1), wrk -t2 -c10 driving the path
(the poll script of run_all.py, or the room GET), and `py-spy record --subprocesses` on
the server for SECONDS (on-CPU samples only); writes flame_poll.svg / flame_room.svg to
--out. Needs ptrace rights (root, or CAP_SYS_PTRACE).

    uv run --group bench python bench/profile_hot_paths.py --flame 15 [poll] [room]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from common import (
    API,
    App,
    BenchRoom,
    admin_cookie_headers,
    create_places,
    create_room,
    create_session,
    fill_lobby,
    flush_redis,
    migrate,
    poll_script,
    production_env,
    require_wrk,
    serve,
)

Call = tuple[str, str, dict[str, str], bytes]


async def poll_calls(app: App, slug: str, places: int) -> list[Call]:
    """Creates `places` waiting participants through the app, returns their polls."""
    path = f"{API}/rooms/{slug}/request-entry/"
    calls = []
    for n in range(places):
        body = json.dumps({"username": f"guest-{n:05d}"}).encode()
        app.cookies.clear()
        await app.call("POST", path, {"content-type": "application/json"}, body)
        jar: SimpleCookie = SimpleCookie()
        for header in app.cookies:
            jar.load(header)
        if "lobbyParticipantId" not in jar:
            raise SystemExit(f"request-entry set no lobby cookie (statuses {dict(app.statuses)})")
        cookie = f"lobbyParticipantId={jar['lobbyParticipantId'].value}"
        calls.append(("POST", path, {"cookie": cookie, "content-type": "application/json"}, body))
    return calls


def room_calls(slug: str) -> list[Call]:
    cookie = (
        f"lobbyParticipantId={secrets.token_urlsafe(32)}; csrftoken={secrets.token_urlsafe(32)}"
    )
    return [("GET", f"{API}/rooms/{slug}/", {"cookie": cookie}, b"")]


async def waiting_calls(room: BenchRoom, places: int) -> list[Call]:
    """`places` waiting participants (through the store), and the owner's poll of them."""
    await fill_lobby(str(room.id), places)
    headers = admin_cookie_headers(await create_session(room.owner_id))
    path = f"{API}/rooms/{room.slug}/waiting-participants/"
    return [("GET", path, {name.lower(): value for name, value in headers.items()}, b"")]


def package_of(path: str | None) -> str:
    if not path or path.startswith("<"):
        return path or "<native>"
    site = re.search(r"site-packages/([^/]+)", path)
    if site:
        return site.group(1).removesuffix(".py")
    if "/antechamber/" in path:
        return "antechamber"
    stdlib = re.search(r"/python3\.\d+/([^/]+)", path)
    if stdlib:
        return f"stdlib {stdlib.group(1).removesuffix('.py')}"
    return path.rsplit("/", 1)[-1]


def top_frames(root: Any, total: float, limit: int) -> None:
    """Self time per function and per package, from pyinstrument's frame tree."""
    by_function: dict[str, float] = defaultdict(float)
    by_package: dict[str, float] = defaultdict(float)
    stack = [root]
    while stack:
        frame = stack.pop()
        stack.extend(frame.children)
        own = frame.total_self_time if not frame.is_synthetic else 0.0
        if frame.is_synthetic and frame.parent is not None:
            continue  # counted in its parent's total_self_time
        if own <= 0:
            continue
        where = f"{frame.function}  {frame.file_path_short}:{frame.line_no}"
        package = package_of(frame.file_path)
        if package.startswith("<"):  # a C function: charged to the library calling it
            caller = frame.parent
            while caller is not None and package_of(caller.file_path).startswith(("<", "stdlib")):
                caller = caller.parent
            if caller is not None:
                called_by = package_of(caller.file_path)
                where += f"  (called from {called_by}: {caller.function})"
                package = f"{called_by} (C calls)"
        by_function[where] += own
        by_package[package] += own
    print(f"\ntop {limit} frames by self time (share of the profiled time):")
    for where, seconds in sorted(by_function.items(), key=lambda item: -item[1])[:limit]:
        print(f"  {seconds / total * 100:5.1f} %  {where}")
    print("\nself time per package:")
    for package, seconds in sorted(by_package.items(), key=lambda item: -item[1])[:limit]:
        print(f"  {seconds / total * 100:5.1f} %  {package}")


async def profile(path_name: str, count: int, places: int, out: Path, tree: bool) -> None:
    from pyinstrument import Profiler

    from antechamber.app import create_app
    from antechamber.settings import load_settings

    access = "public" if path_name == "room" else "trusted"
    room = await create_room(dict(os.environ), access)
    fastapi_app = create_app(load_settings())
    app = App(fastapi_app)
    async with fastapi_app.router.lifespan_context(fastapi_app):
        if path_name == "poll":
            calls = await poll_calls(app, room.slug, places)
        elif path_name == "waiting":
            calls = await waiting_calls(room, places)
        else:
            calls = room_calls(room.slug)
        for n in range(max(200, len(calls))):  # warm pools and caches
            await app.call(*calls[n % len(calls)])
        app.statuses.clear()
        started, cpu_started = time.perf_counter(), time.process_time()
        for n in range(count):
            await app.call(*calls[n % len(calls)])
        plain = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        profiler = Profiler(interval=0.0005)
        profiler.start()
        started = time.perf_counter()
        for n in range(count):
            await app.call(*calls[n % len(calls)])
        profiled = time.perf_counter() - started
        profiler.stop()
    statuses = dict(app.statuses)
    print(f"\n===== {path_name}: {count} requests x2 (timed, then profiled), statuses {statuses}")
    print(
        f"{path_name}: {plain / count * 1000:.3f} ms/request without the profiler "
        f"({cpu / count * 1000:.3f} ms of this process' CPU), "
        f"{profiled / count * 1000:.3f} ms/request under pyinstrument "
        "(one process, sequential, in-process ASGI calls)"
    )
    if set(statuses) != {200}:
        print(f"WARNING: not every answer was 200: {statuses}")
    if tree:
        print(profiler.output_text(unicode=False, color=False, show_all=False))
    session = profiler.last_session
    root = session.root_frame() if session is not None else None
    if root is not None:
        top_frames(root, root.time, 20)
    html = out / f"profile_{path_name}.html"
    html.write_text(profiler.output_html())
    print(f"wrote {html}")


def py_spy() -> str:
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("py-spy is missing: run with `uv run --group bench ...`")
    return found


def flame(
    path_name: str, seconds: int, places: int, out: Path, env: dict[str, str], collapsed: bool
) -> None:
    """py-spy's flame graph of a served process's workers while wrk drives `path_name`;
    with `collapsed`, its collapsed stacks instead, summarised here."""
    access = "public" if path_name == "room" else "trusted"
    room = asyncio.run(create_room(env, access))
    log_path = Path(tempfile.gettempdir(), f"antechamber-flame-{path_name}.log")
    with serve(env, 2, log_path) as server, tempfile.TemporaryDirectory() as tmp:
        wrk_args = ["-t2", "-c10", f"-d{seconds + 4}s", "--timeout", "10s"]
        if path_name == "poll":
            url = f"{server.base}{API}/rooms/{room.slug}/request-entry/"
            script = poll_script(create_places(url, places), Path(tmp, "poll.lua"))
            wrk_args += ["-s", str(script)]
        elif path_name == "waiting":
            url = f"{server.base}{API}/rooms/{room.slug}/waiting-participants/"
            calls = asyncio.run(waiting_calls(room, places))
            wrk_args += ["-H", f"Cookie: {calls[0][2]['cookie']}"]
        else:
            url = f"{server.base}{API}/rooms/{room.slug}/"
            cookie = f"lobbyParticipantId={secrets.token_urlsafe(32)}; csrftoken=x"
            wrk_args += ["-H", f"Cookie: {cookie}"]
        svg = out / (f"stacks_{path_name}.txt" if collapsed else f"flame_{path_name}.svg")
        load = subprocess.Popen([require_wrk(), *wrk_args, url], stdout=subprocess.DEVNULL)
        try:
            record = [py_spy(), "record", "--subprocesses", "--pid", str(server.pid)]
            record += ["--duration", str(seconds), "--rate", "200", "--output", str(svg)]
            record += ["--format", "raw"] if collapsed else []
            spy = subprocess.run(record, capture_output=True, text=True, timeout=seconds + 120)
        finally:
            load.wait(timeout=seconds + 60)
    if spy.returncode != 0:
        raise SystemExit(f"py-spy failed ({spy.returncode}): {spy.stderr.strip()[-500:]}")
    print(f"{path_name}: py-spy flame graph of the 2 workers under wrk -t2 -c10, {seconds} s")
    for line in (spy.stdout + spy.stderr).splitlines():
        if "Samples" in line or "rror" in line:
            print(line.strip())
    print(f"wrote {svg}")
    if collapsed:
        summarise_stacks(svg)


_PY_SPY_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^:()]*)(?::\d+)?\)$")


def summarise_stacks(path: Path, limit: int = 25) -> None:
    """Self samples per function and per package, and samples under each antechamber
    function (inclusive), from py-spy's collapsed stacks (`frame;frame;... count`)."""
    own: dict[str, int] = defaultdict(int)
    packages: dict[str, int] = defaultdict(int)
    inclusive: dict[str, int] = defaultdict(int)
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        leaf = _PY_SPY_FRAME.match(frames[-1])
        own[frames[-1]] += count
        packages[package_of(leaf.group("file")) if leaf else "?"] += count
        for frame in set(frames):
            found = _PY_SPY_FRAME.match(frame)
            if found and "antechamber/" in found.group("file"):
                inclusive[frame] += count
    if not total:
        print("no samples")
        return
    for title, table in (
        ("self samples per function", own),
        ("self samples per package", packages),
        ("samples under each antechamber function (inclusive)", inclusive),
    ):
        print(f"\n{title} (of {total}):")
        for name, count in sorted(table.items(), key=lambda item: -item[1])[:limit]:
            print(f"  {count / total * 100:5.1f} %  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "paths", nargs="*", help="poll, room and/or waiting (default: poll and room)"
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument(
        "--places", type=int, default=1000, help="waiting pollers (poll), places (waiting)"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--tree", action="store_true", help="print pyinstrument's call tree too")
    parser.add_argument(
        "--flame", type=int, default=0, metavar="SECONDS", help="py-spy flame graphs instead"
    )
    parser.add_argument(
        "--collapsed", action="store_true", help="with --flame: collapsed stacks, summarised"
    )
    args = parser.parse_args()
    if args.flame:
        require_wrk()
        py_spy()
    else:
        try:
            import pyinstrument  # noqa: F401
        except ImportError:
            raise SystemExit("pyinstrument is missing: run `uv run --group bench ...`") from None
    paths = args.paths or ["poll", "room"]
    known = {"poll", "room", "waiting"}
    if set(paths) - known:
        raise SystemExit(f"unknown paths {sorted(set(paths) - known)}: poll, room, waiting")
    args.out.mkdir(parents=True, exist_ok=True)
    env = production_env(
        rate_limit_per_minute=100_000, max_waiting_per_room=100_000, waiting_timeout_s=900
    )
    migrate(env)
    os.environ.update(env)
    for path_name in paths:
        flush_redis()
        try:
            if args.flame:
                flame(path_name, args.flame, args.places, args.out, env, args.collapsed)
            else:
                asyncio.run(profile(path_name, args.requests, args.places, args.out, args.tree))
        finally:
            flush_redis()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
