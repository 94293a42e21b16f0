"""Every scenario of issue 11's table, one after the other, and ONE table at the end.

Rows (short names for --only):
  poll200       POST request-entry, 200 distinct waiting participants polling
  poll1000      the same with 1,000
  arrivals      POST request-entry without a cookie: a new participant each time
  room          GET a public room (anonymous; a LiveKit token minted each time)
  unregistered  GET a slug no room has, ANTECHAMBER_ALLOW_UNREGISTERED_ROOMS=true
  waiting1000   GET waiting-participants (the owner) with 1,000 waiting
  memory        Redis memory of 10,000 waiting places in one room (no load)

Each load row: a warm-up wrk run (not counted), then `wrk -t2 -c10 -d20s --latency`
against a fresh `antechamber serve --workers 2` (production mode, PostgreSQL
antechamber_bench + Redis db 10, 127.0.0.1 only), stopped by PID; Redis db 10 is
flushed before and after each row. Columns: requests/s, p50, p99, non-2xx (of all
requests; socket errors are listed under the table), RSS of each worker after the run
(MiB), and Redis bytes per waiting place: the INFO used_memory delta over the places'
creation (server-wide: anything else using the same Redis server lands in it) and
MEMORY USAGE of the room's keys, each divided by the number of places.

    uv run python bench/run_all.py                # full: 20 s per row, about 4 minutes
    uv run python bench/run_all.py --quick        # smoke: 3 s per row
    uv run python bench/run_all.py --only poll200,room --duration 10s
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from urllib.parse import urlsplit

from common import DATABASE_URL, REDIS_URL, Load, require_wrk
from scenarios import Row, log, prepare, run, scenarios


def _num(value: float | None, digits: int = 0) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:,.{digits}f}"


def _rate(value: str) -> str:
    try:
        return _num(float(value))
    except ValueError:
        return "-"


def table(rows: list[Row]) -> str:
    header = [
        "scenario",
        "req/s",
        "p50",
        "p99",
        "non-2xx",
        "CPU ms/req",
        "RSS/worker MiB",
        "Redis B/place (INFO)",
        "Redis B/place (MEMORY USAGE)",
    ]
    lines = []
    for row in rows:
        numbers = row.numbers or {}
        requests = numbers.get("requests", "")
        non_2xx = f"{numbers['non_2xx']} of {requests}" if numbers else "-"
        rss = " / ".join(f"{mib:.1f}" for mib in row.rss_mib) or "-"
        lines.append(
            [
                row.scenario,
                _rate(numbers.get("requests_per_s", "?")),
                numbers.get("p50", "-"),
                numbers.get("p99", "-"),
                non_2xx,
                numbers.get("cpu_ms_per_request", "-"),
                rss,
                _num(row.info_per_place, 1),
                _num(row.usage_per_place, 1),
            ]
        )
    widths = [max(len(str(cells[i])) for cells in [header, *lines]) for i in range(len(header))]

    def fmt(cells: list[str]) -> str:
        first = f"| {cells[0]:<{widths[0]}} "
        rest = "".join(
            f"| {cell:>{width}} " for cell, width in zip(cells[1:], widths[1:], strict=True)
        )
        return first + rest + "|"

    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([fmt(header), rule, *(fmt(cells) for cells in lines)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", default="20s", help="wrk -d of each row (default 20s)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 s rows, 1 s warm-up")
    parser.add_argument("--warmup", default=None, help="warm-up wrk run per row (default 2s)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-places", type=int, default=10_000)
    parser.add_argument("--only", default="", help="comma-separated row names (see above)")
    parser.add_argument("--verbose", action="store_true", help="print wrk's whole output")
    args = parser.parse_args()

    require_wrk()
    duration = "3s" if args.quick else args.duration
    warmup = args.warmup or ("1s" if args.quick else "2s")
    load = Load(duration, args.threads, args.connections, warmup)
    chosen = scenarios(load, args.workers, args.memory_places)
    only = [name for name in args.only.split(",") if name]
    unknown = sorted(set(only) - set(chosen))
    if unknown:
        raise SystemExit(f"unknown rows {unknown}; choose from {sorted(chosen)}")

    started = time.monotonic()
    prepare()
    rows = []
    for name, scenario in chosen.items():
        if only and name not in only:
            continue
        row = run(name, scenario)
        rows.append(row)
        if args.verbose and row.numbers:
            print(row.numbers["output"])
        log(f"{name}: done ({time.monotonic() - started:.0f} s so far)")

    redis = urlsplit(REDIS_URL)  # no credentials printed
    print(
        f"antechamber bench: ANTECHAMBER_ENVIRONMENT=production, {args.workers} workers, "
        f"wrk -t{args.threads} -c{args.connections} -d{duration} --latency "
        f"(after a {warmup} warm-up), PostgreSQL database {DATABASE_URL.rsplit('/', 1)[-1]}, "
        f"Redis {redis.hostname}:{redis.port} db {redis.path.strip('/') or '0'}, "
        f"127.0.0.1 only; {platform.node()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        + ("; QUICK SMOKE RUN, not a measurement" if args.quick else "")
    )
    print(table(rows))
    for row in rows:
        numbers = row.numbers or {}
        if numbers.get("socket_errors", "none") != "none":
            print(f"{row.scenario}: {numbers['socket_errors']}")
        for line in row.detail:
            print(f"{row.scenario}: {line}")
    print(f"total {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
