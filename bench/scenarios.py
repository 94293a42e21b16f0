"""The scenarios of issue 11's table, each a function that sets up, drives wrk and
returns one `Row`; run_all.py runs them all and prints one table.

Every scenario starts its own server (`antechamber serve --workers N`, production mode,
PostgreSQL antechamber_bench + Redis db 10, 127.0.0.1 only; see common.py), stops it by
PID and flushes Redis db 10 before and after, so scenarios don't see each other's data.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    API,
    Load,
    admin_cookie_headers,
    create_places,
    create_room,
    create_session,
    drive,
    fill_lobby,
    flush_redis,
    fresh_log,
    migrate,
    poll_script,
    production_env,
    progress,
    room_memory,
    serve,
    used_memory,
    worker_rss,
)

# Set-up limits raised so the set-up and the load are not refused: every request comes
# from 127.0.0.1, and the default lobby size (1,000) would cap new arrivals.
LOBBY = {"rate_limit_per_minute": 100_000, "max_waiting_per_room": 100_000}
LOBBY_LONG = {**LOBBY, "waiting_timeout_s": 900}  # nobody expires during a run


@dataclass
class Row:
    scenario: str
    numbers: dict[str, str] | None = None  # parse_wrk's, None when nothing was driven
    rss_mib: list[float] = field(default_factory=list)
    places: int = 0  # waiting places the Redis bytes are divided by
    info_bytes: int | None = None  # INFO used_memory delta over the places' creation
    usage_bytes: int | None = None  # MEMORY USAGE of the room's keys
    detail: list[str] = field(default_factory=list)

    @property
    def info_per_place(self) -> float | None:
        return (
            self.info_bytes / self.places if self.info_bytes is not None and self.places else None
        )

    @property
    def usage_per_place(self) -> float | None:
        return (
            self.usage_bytes / self.places if self.usage_bytes is not None and self.places else None
        )


def log(text: str) -> None:
    progress("bench", text)


def server_log(name: str) -> Path:
    return fresh_log("bench", name)


def _memory(row: Row, room_id: str, before: int, places: int) -> None:
    row.places = places
    row.info_bytes = used_memory() - before
    usage = room_memory(room_id)
    row.usage_bytes = sum(size for size, _ in usage.values())
    for key, (size, encoding) in usage.items():
        row.detail.append(f"MEMORY USAGE {key}: {size} B ({encoding})")


def _count_waiting(base: str, slug: str, owner_headers: dict[str, str]) -> int:
    request = urllib.request.Request(  # noqa: S310
        f"{base}{API}/rooms/{slug}/waiting-participants/", headers=owner_headers
    )
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
        return len(json.loads(response.read())["participants"])


def poll(pollers: int, load: Load, workers: int) -> Row:
    """POST request-entry by `pollers` distinct waiting participants (trusted room,
    anonymous), a wrk Lua script cycling through their cookies."""
    row = Row(f"request-entry, {pollers:,} waiting polling")
    env = production_env(**LOBBY_LONG)
    room = asyncio.run(create_room(env, "trusted"))
    log_path = server_log(f"poll{pollers}")
    row.detail.append(f"server output: {log_path}")
    with serve(env, workers, log_path) as server, tempfile.TemporaryDirectory() as tmp:
        url = f"{server.base}{API}/rooms/{room.slug}/request-entry/"
        before = used_memory()
        places = create_places(url, pollers)
        _memory(row, str(room.id), before, len(places))
        script = poll_script(places, Path(tmp, "poll.lua"))
        row.numbers = drive(url, load, ["-s", str(script)], cpu_of=worker_rss(server))
        row.rss_mib = list(worker_rss(server).values())
    return row


NEW_ARRIVAL_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"newcomer"}'
"""


def new_arrivals(load: Load, workers: int) -> Row:
    """POST request-entry without a cookie: each request is a new participant who gets a
    new place and cookie (and the service's "someone waits" notification to LiveKit;
    no LiveKit server runs here, so each fails fast with connection refused)."""
    row = Row("request-entry, a new participant each time")
    env = production_env(**LOBBY_LONG)
    room = asyncio.run(create_room(env, "trusted"))
    log_path = server_log("arrivals")
    row.detail.append(f"server output: {log_path}")
    with serve(env, workers, log_path) as server, tempfile.TemporaryDirectory() as tmp:
        url = f"{server.base}{API}/rooms/{room.slug}/request-entry/"
        script = Path(tmp, "arrive.lua")
        script.write_text(NEW_ARRIVAL_LUA)
        before = used_memory()
        row.numbers = drive(url, load, ["-s", str(script)], cpu_of=worker_rss(server))
        row.rss_mib = list(worker_rss(server).values())
        headers = admin_cookie_headers(asyncio.run(create_session(room.owner_id)))
        waiting = _count_waiting(server.base, room.slug, headers)
        _memory(row, str(room.id), before, waiting)
        row.detail.append(
            f"{waiting:,} places created (warm-up included); the lobby's cap is "
            f"{LOBBY['max_waiting_per_room']:,}" + (": REACHED" if waiting >= 100_000 else "")
        )
    return row


def room_get(load: Load, workers: int, unregistered: bool) -> Row:
    """GET rooms/{slug}/ by an anonymous returning visitor (lobby and CSRF cookies set):
    a public room (a token is minted each time), or, with
    ANTECHAMBER_ALLOW_UNREGISTERED_ROOMS=true, a slug no room has."""
    env = production_env()
    if unregistered:
        env["ANTECHAMBER_ALLOW_UNREGISTERED_ROOMS"] = "true"
        slug = f"bench-unregistered-{secrets.token_hex(4)}"
        row = Row("GET an unregistered room (mints a token)")
    else:
        slug = asyncio.run(create_room(env, access_level="public")).slug
        row = Row("GET a public room (mints a token)")
    log_path = server_log("unregistered" if unregistered else "room")
    row.detail.append(f"server output: {log_path}")
    with serve(env, workers, log_path) as server:
        url = f"{server.base}{API}/rooms/{slug}/"
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            body = json.loads(response.read())
        if not body.get("livekit", {}).get("token"):
            raise SystemExit(f"GET {url} answered without a token: {body}")
        lobby, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        cookie = ["-H", f"Cookie: lobbyParticipantId={lobby}; csrftoken={csrf}"]
        row.numbers = drive(url, load, cookie, cpu_of=worker_rss(server))
        row.rss_mib = list(worker_rss(server).values())
    return row


def waiting_list(size: int, load: Load, workers: int) -> Row:
    """GET waiting-participants by the room's owner (a session made with the service's
    SessionService) with `size` places, made through RedisLobbyStore.request."""
    row = Row(f"waiting-participants, {size:,} waiting")
    env = production_env(**LOBBY_LONG)
    room = asyncio.run(create_room(env, "trusted"))
    headers = admin_cookie_headers(asyncio.run(create_session(room.owner_id)))
    log_path = server_log(f"waiting{size}")
    row.detail.append(f"server output: {log_path}")
    with serve(env, workers, log_path) as server:
        before = used_memory()
        asyncio.run(fill_lobby(str(room.id), size))
        _memory(row, str(room.id), before, size)
        listed = _count_waiting(server.base, room.slug, headers)
        if listed != size:
            raise SystemExit(f"expected {size} waiting, the list has {listed}")
        url = f"{server.base}{API}/rooms/{room.slug}/waiting-participants/"
        extra = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
        row.numbers = drive(url, load, extra, cpu_of=worker_rss(server))
        row.rss_mib = list(worker_rss(server).values())
    return row


def memory(places: int) -> Row:
    """Redis memory of `places` waiting places in one room, made through
    RedisLobbyStore.request, no load (the issue's "Redis per waiting participant")."""
    row = Row(f"Redis memory, {places:,} waiting (no load)")
    env = production_env(**LOBBY_LONG)
    room = asyncio.run(create_room(env, "trusted"))
    before = used_memory()
    asyncio.run(fill_lobby(str(room.id), places))
    _memory(row, str(room.id), before, places)
    return row


def scenarios(load: Load, workers: int, memory_places: int) -> dict[str, Callable[[], Row]]:
    """The table's rows by short name, in order."""
    return {
        "poll200": lambda: poll(200, load, workers),
        "poll1000": lambda: poll(1000, load, workers),
        "arrivals": lambda: new_arrivals(load, workers),
        "room": lambda: room_get(load, workers, unregistered=False),
        "unregistered": lambda: room_get(load, workers, unregistered=True),
        "waiting1000": lambda: waiting_list(1000, load, workers),
        "memory": lambda: memory(memory_places),
    }


def run(name: str, scenario: Callable[[], Row]) -> Row:
    """One scenario between two flushes of the bench Redis db."""
    log(f"{name}: starting")
    flush_redis()
    try:
        return scenario()
    finally:
        flush_redis()


def prepare() -> None:
    """Migrates the bench database once (production settings)."""
    migrate(production_env())
