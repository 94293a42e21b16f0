"""Fault runs on the multi-host test bed, with figures: requests, failures by status or
error, time to recover (from the fault to the last failed request), admissions made,
and anything acknowledged that was lost.

Runs, in order, on one bed (`tests/testbed/bed.py`): event streams across a host
SIGKILLed; polling while a host is SIGKILLed; while a host is stopped with SIGTERM;
while a Redis master is killed; while PostgreSQL restarts. Each load run: `--visitors`
waiting participants polling request-entry every 100 ms through HAProxy for
`--duration` seconds, an admin admitting one every 0.5 s, the fault after 2 s.

    uv run python bench/multihost_faults.py [--visitors 30] [--duration 10]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.testbed import faults
from tests.testbed.bed import start_bed
from tests.testbed.load import Load


async def runs(visitors: int, duration_s: float) -> None:
    bed = await asyncio.to_thread(start_bed, ANTECHAMBER_LOG_LEVEL="warning")
    load = Load(visitors=visitors, duration_s=duration_s, fault_after_s=2.0)
    try:
        streams = await faults.streams_across_a_killed_host(bed)
        print(
            f"streams across a SIGKILL of host1: {streams['streams']} streams, "
            f"{streams['broken']} broken by the kill, {streams['reconnected']} reconnected "
            f"through the balancer, final states {streams['final']}",
            flush=True,
        )
        for run in (
            faults.sigkill_host,
            faults.sigterm_host,
            faults.kill_redis_master,
            faults.restart_postgres,
        ):
            figures = await run(bed, load=load)
            print(figures.line(), flush=True)
            for lost in figures.lost:
                print(f"  lost: {lost}")
    finally:
        await asyncio.to_thread(bed.stop)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visitors", type=int, default=30)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(runs(args.visitors, args.duration))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
