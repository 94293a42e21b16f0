"""Curves for issue 11, drawn as PNG plots (matplotlib) in --out, with the numbers printed.

  waiting    GET waiting-participants (the owner) against the list's size, 100 -> 10,000
             (places made through RedisLobbyStore.request; wrk -t2 -c4 per point):
             waiting_list.png (req/s; p50 and p99)
  poll       POST request-entry by 200 waiting participants polling, against the number of
             keys in the Redis db: unrelated keys and other rooms' lobbies (100 places
             each) added between points; it should stay flat: poll_background.png
  admission  two `serve --workers 1` processes A and B; participants' lobby-events
             streams held open on A, 100 -> 5,000; at each point 100 admissions (`enter`
             POSTed on B by the owner -> `accepted` event on the participant's stream on
             A). Two series: every stream in one room, and rooms of 100 participants
             (an event reaches at most 100 streams): admission_latency.png (p50, p90,
             p99) and rss_streams.png (A's RSS)

Every point runs against servers in production mode (PostgreSQL antechamber_bench, Redis
db 10), 127.0.0.1 only; servers stopped by PID, Redis db 10 flushed before and after each
curve. Defaults keep the whole run under ~10 minutes on 2 cores (5 s per wrk point);
--quick makes a smoke run of a minute or two with fewer, smaller points.

    uv run --group bench python bench/curves.py [--out bench/results] [--quick]
        [--only waiting,poll,admission] [--duration 5s]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from common import (
    API,
    Load,
    admin_cookie_headers,
    create_places,
    create_room,
    create_session,
    dbsize,
    drive,
    fill_lobby,
    fill_other_keys,
    fill_other_rooms,
    flush_redis,
    fresh_log,
    migrate,
    percentile,
    poll_script,
    production_env,
    progress,
    raise_fd_limit,
    require_wrk,
    serve,
    worker_rss,
    wrk_ms,
)
from streams import Stream, admit, open_streams

LOBBY = {
    "rate_limit_per_minute": 100_000,
    "max_waiting_per_room": 100_000,
    "waiting_timeout_s": 900,
}
OTHER_ROOM_PLACES = 100
POLLERS = 200
OPEN_CONCURRENCY = 50
ROOM_SIZE = 100  # participants per room in the spread series


@dataclass(frozen=True)
class Plan:
    load: Load
    sizes: list[int]  # waiting list sizes
    backgrounds: list[tuple[int, int]]  # (unrelated keys, other rooms), cumulative
    streams: list[int]  # open streams per process
    admissions: int  # admissions timed per stream count
    workers: int


def log(text: str) -> None:
    progress("curves", text)


def server_log(name: str) -> Path:
    return fresh_log("curves", name)


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(cells[i]) for cells in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    for cells in [header, *rows]:
        print("  ".join(cell.rjust(width) for cell, width in zip(cells, widths, strict=True)))


PAGE = 100  # the paged series' ?limit=


def waiting_curve(plan: Plan, out: Path) -> None:
    env = production_env(**LOBBY)
    room = asyncio.run(create_room(env, "trusted"))
    headers = admin_cookie_headers(asyncio.run(create_session(room.owner_id)))
    extra = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    load = Load(plan.load.duration, plan.load.threads, 4, plan.load.warmup, plan.load.timeout)
    points = []
    with serve(env, plan.workers, server_log("waiting")) as server:
        url = f"{server.base}{API}/rooms/{room.slug}/waiting-participants/"
        waiting = 0
        for size in plan.sizes:
            asyncio.run(fill_lobby(str(room.id), size - waiting, first=waiting))
            waiting = size
            log(f"waiting list: {size} waiting")
            whole = drive(url, load, extra)
            page = drive(f"{url}?limit={PAGE}", load, extra)
            points.append((size, whole, page, list(worker_rss(server).values())))
    print_table(
        f"GET waiting-participants against the list's size (wrk -t{load.threads} "
        f"-c{load.connections} -d{load.duration}, {plan.workers} workers): the whole list, "
        f"then its first page (?limit={PAGE})",
        [
            "waiting",
            "req/s",
            "p50",
            "p99",
            "non-2xx",
            "page req/s",
            "page p50",
            "page p99",
            "RSS/worker MiB",
        ],
        [
            [
                f"{size:,}",
                whole["requests_per_s"],
                whole["p50"],
                whole["p99"],
                f"{whole['non_2xx']} of {whole['requests']}",
                page["requests_per_s"],
                page["p50"],
                page["p99"],
                " / ".join(f"{mib:.1f}" for mib in rss),
            ]
            for size, whole, page, rss in points
        ],
    )
    plt = pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    sizes = [size for size, _, _, _ in points]
    series = {
        "whole list": [whole for _, whole, _, _ in points],
        f"?limit={PAGE}": [page for _, _, page, _ in points],
    }
    for label, runs in series.items():
        left.plot(sizes, [float(n["requests_per_s"]) for n in runs], marker="o", label=label)
        for key in ("p50", "p99"):
            latencies = [wrk_ms(n[key]) for n in runs]
            right.plot(sizes, latencies, marker="o", label=f"{label} {key}")
    left.set(xscale="log", xlabel="people waiting", ylabel="requests/s", title="throughput")
    left.legend()
    right.set(xscale="log", yscale="log", xlabel="people waiting", ylabel="latency (ms)")
    right.set_title("latency")
    right.legend()
    figure.suptitle("GET waiting-participants against the waiting list's size")
    save(figure, out / "waiting_list.png")


def poll_curve(plan: Plan, out: Path) -> None:
    env = production_env(**LOBBY)
    room = asyncio.run(create_room(env, "trusted"))
    points = []
    with (
        serve(env, plan.workers, server_log("poll")) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        url = f"{server.base}{API}/rooms/{room.slug}/request-entry/"
        places = create_places(url, POLLERS)
        script = poll_script(places, Path(tmp, "poll.lua"))
        keys_made, rooms_made = 0, 0
        for keys, rooms in plan.backgrounds:
            fill_other_keys(keys - keys_made, first=keys_made)
            asyncio.run(fill_other_rooms(rooms - rooms_made, OTHER_ROOM_PLACES))
            keys_made, rooms_made = keys, rooms
            size = dbsize()
            log(f"poll: {size:,} keys in the db ({keys:,} unrelated, {rooms} other rooms)")
            numbers = drive(url, plan.load, ["-s", str(script)])
            points.append((size, keys, rooms, numbers))
    print_table(
        f"POST request-entry, {POLLERS} waiting polling, against the Redis db's size "
        f"(wrk -t{plan.load.threads} -c{plan.load.connections} -d{plan.load.duration}, "
        f"{plan.workers} workers; other rooms have {OTHER_ROOM_PLACES} places each)",
        ["keys in db", "unrelated", "other rooms", "req/s", "p50", "p99", "non-2xx"],
        [
            [
                f"{size:,}",
                f"{keys:,}",
                f"{rooms:,}",
                numbers["requests_per_s"],
                numbers["p50"],
                numbers["p99"],
                f"{numbers['non_2xx']} of {numbers['requests']}",
            ]
            for size, keys, rooms, numbers in points
        ],
    )
    plt = pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    sizes = [max(size, 1) for size, _, _, _ in points]
    left.plot(sizes, [float(n["requests_per_s"]) for *_, n in points], marker="o")
    left.set(xscale="log", xlabel="keys in the Redis db", ylabel="requests/s", title="throughput")
    left.set_ylim(bottom=0)
    for key in ("p50", "p99"):
        right.plot(sizes, [wrk_ms(n[key]) for *_, n in points], marker="o", label=key)
    right.set(xscale="log", xlabel="keys in the Redis db", ylabel="latency (ms)", title="latency")
    right.set_ylim(bottom=0)
    right.legend()
    figure.suptitle(f"request-entry poll ({POLLERS} waiting) against other rooms and keys in Redis")
    save(figure, out / "poll_background.png")


@dataclass
class AdmissionPoint:
    streams: int
    latencies: list[float]
    responses: list[float]
    rss_a: float
    open_s: float


async def admission_points(
    a_base: str,
    b_base: str,
    rss_of_a: Callable[[], float],
    streams: list[Stream],
    session: str,
    plan: Plan,
    label: str,
) -> list[AdmissionPoint]:
    readers: list[asyncio.Task[None]] = []
    points = []
    headers = admin_cookie_headers(session)
    opened = 0  # streams opened so far; the first `admitted` of them are closed
    admitted = 0
    try:
        async with httpx.AsyncClient(base_url=b_base, headers=headers, timeout=10) as admin:
            for count in plan.streams:
                # Hold `count` + the samples open, so `count` are still open after them.
                wanted = count + plan.admissions
                started = time.perf_counter()
                batch = streams[opened : admitted + wanted]
                readers += await open_streams(a_base, batch, OPEN_CONCURRENCY)
                opened += len(batch)
                open_s = time.perf_counter() - started
                rss = rss_of_a()
                # Admit the oldest open streams (spread over the rooms in turn).
                sample = streams[admitted : admitted + plan.admissions]
                latencies, responses = await admit(admin, sample)
                admitted += len(sample)
                log(
                    f"admission ({label}): {count:,} streams open (+{len(sample)} admitted), "
                    f"RSS A {rss:.1f} MiB"
                )
                points.append(AdmissionPoint(count, latencies, responses, rss, open_s))
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    return points


def admission_series(plan: Plan, per_room: int, label: str) -> list[AdmissionPoint]:
    """Streams in rooms of `per_room` participants each (one room when it is 0)."""
    env = production_env(**LOBBY)
    total = max(plan.streams) + plan.admissions * len(plan.streams)
    room_count = 1 if per_room <= 0 else -(-total // per_room)
    rooms = [asyncio.run(create_room(env, "trusted")) for _ in range(room_count)]
    session = asyncio.run(create_session(rooms[0].owner_id))  # one owner for every room
    with (
        serve(env, 1, server_log("admission-a")) as a,
        serve(env, 1, server_log("admission-b")) as b,
    ):
        log(f"admission ({label}): creating {total:,} waiting places on A in {room_count} rooms")
        streams: list[Stream] = []
        for n, room in enumerate(rooms):
            size = total if per_room <= 0 else min(per_room, total - n * per_room)
            url = f"{a.base}{API}/rooms/{room.slug}/request-entry/"
            streams += [Stream(place, room.slug) for place in create_places(url, size)]
        # Opened and admitted room after room: an event reaches at most `per_room` streams.

        def rss_a() -> float:
            return sum(worker_rss(a).values())

        return asyncio.run(admission_points(a.base, b.base, rss_a, streams, session, plan, label))


def admission_curve(plan: Plan, out: Path) -> None:
    raise_fd_limit(4 * max(plan.streams) + 1000)
    series: dict[str, list[AdmissionPoint]] = {}
    for label, per_room in (("one room", 0), (f"rooms of {ROOM_SIZE}", ROOM_SIZE)):
        series[label] = admission_series(plan, per_room, label)
        flush_redis()
    header = ["streams in", "open streams", "admissions", "p50 ms", "p90 ms", "p99 ms"]
    header += ["max ms", "enter p50 ms", "RSS A MiB", "open s"]
    rows = []
    for label, points in series.items():
        for point in points:
            lat = [value * 1000 for value in point.latencies]
            rows.append(
                [
                    label,
                    f"{point.streams:,}",
                    str(len(lat)),
                    f"{statistics.median(lat):.2f}",
                    f"{percentile(lat, 90):.2f}",
                    f"{percentile(lat, 99):.2f}",
                    f"{max(lat):.2f}",
                    f"{statistics.median(point.responses) * 1000:.2f}",
                    f"{point.rss_a:.1f}",
                    f"{point.open_s:.1f}",
                ]
            )
    print_table(
        "admission: enter on process B -> accepted on the stream on process A "
        "(one worker each), against streams open on A (p99 of fewer than 100 admissions "
        "is their max)",
        header,
        rows,
    )
    plt = pyplot()
    figure, axes = plt.subplots(1, len(series), figsize=(11, 4.2), sharey=True)
    for axis, (label, points) in zip(axes, series.items(), strict=True):
        counts = [point.streams for point in points]
        for name, pct in (("p50", 50.0), ("p90", 90.0), ("p99", 99.0)):
            values = [percentile(p.latencies, pct) * 1000 for p in points]
            axis.plot(counts, values, marker="o", label=name)
        axis.set(xscale="log", xlabel="lobby-events streams open on A", ylabel="latency (ms)")
        axis.set_title(f"streams in {label}")
        axis.set_ylim(bottom=0)
        axis.legend()
    figure.suptitle("admission: enter on B -> accepted event on the stream on A")
    save(figure, out / "admission_latency.png")
    figure, axis = plt.subplots(figsize=(6.5, 4.2))
    for label, points in series.items():
        axis.plot([p.streams for p in points], [p.rss_a for p in points], marker="o", label=label)
    axis.set(xlabel="lobby-events streams open on the process", ylabel="RSS (MiB)")
    axis.set_title("worker RSS against open streams (one worker)")
    axis.set_ylim(bottom=0)
    axis.legend()
    save(figure, out / "rss_streams.png")


def save(figure: Any, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot().close(figure)
    print(f"wrote {path}")


CURVES: dict[str, Callable[[Plan, Path], None]] = {
    "waiting": waiting_curve,
    "poll": poll_curve,
    "admission": admission_curve,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer, smaller points")
    parser.add_argument("--duration", default=None, help="wrk -d per point (default 5s)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", default="", help="comma-separated: " + ",".join(CURVES))
    args = parser.parse_args()

    require_wrk()
    pyplot()  # fails early when matplotlib is missing (uv run --group bench ...)
    only = [name for name in args.only.split(",") if name] or list(CURVES)
    unknown = sorted(set(only) - set(CURVES))
    if unknown:
        raise SystemExit(f"unknown curves {unknown}; choose from {sorted(CURVES)}")
    if args.quick:
        plan = Plan(
            Load(args.duration or "2s", 2, 10, "1s"),
            sizes=[100, 1000],
            backgrounds=[(0, 0), (20_000, 10)],
            streams=[100, 300],
            admissions=10,
            workers=args.workers,
        )
    else:
        plan = Plan(
            Load(args.duration or "5s", 2, 10, "2s"),
            sizes=[100, 300, 1000, 3000, 10_000],
            backgrounds=[(0, 0), (10_000, 10), (100_000, 50), (500_000, 200)],
            streams=[100, 500, 1000, 2000, 5000],
            admissions=100,
            workers=args.workers,
        )
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    migrate(production_env())
    for name in only:
        log(f"{name}: starting")
        flush_redis()
        try:
            CURVES[name](plan, args.out)
        finally:
            flush_redis()
        log(f"{name}: done ({time.monotonic() - started:.0f} s so far)")
    print(
        f"\nproduction mode, PostgreSQL + Redis db 10, 127.0.0.1 only; total "
        f"{time.monotonic() - started:.0f} s"
        + ("; QUICK SMOKE RUN, not a measurement" if args.quick else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
