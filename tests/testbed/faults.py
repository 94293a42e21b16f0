"""The fault runs on the bed, shared by the CI test and `bench/multihost_faults.py`."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import Any

import httpx

from tests.http_server import HttpBrowser
from tests.testbed.bed import Bed
from tests.testbed.load import API, Figures, Load, restricted_room, run


async def sigkill_host(bed: Bed, name: str = "host2", load: Load = Load()) -> Figures:
    host = bed.host_named(name)

    async def fault() -> str:
        host.signal(signal.SIGKILL)
        seen_down = await asyncio.to_thread(bed.balancer.wait_states, {name: "DOWN"})
        return f"HAProxy marked {name} DOWN {seen_down:.2f} s after the kill"

    figures = await run(bed.url, f"SIGKILL {name}", fault, load)
    host.stop()  # reaps the killed supervisor
    host.start()
    await asyncio.to_thread(bed.all_up)
    return figures


async def sigterm_host(bed: Bed, name: str = "host3", load: Load = Load()) -> Figures:
    host = bed.host_named(name)

    async def fault() -> str:
        started = time.monotonic()
        code = await asyncio.to_thread(host.stop)
        return f"{name} drained and exited ({code}) in {time.monotonic() - started:.2f} s"

    figures = await run(bed.url, f"SIGTERM {name}", fault, load)
    host.start()
    await asyncio.to_thread(bed.all_up)
    return figures


async def kill_redis_master(bed: Bed, load: Load = Load()) -> Figures:
    async def fault() -> str:
        # The master of a slot the run's rooms are likely to use: any master will do, the
        # visitors' rooms spread over all three.
        victim = bed.redis.masters()[0]
        bed.redis.kill(victim)
        took = await asyncio.to_thread(_wait_cluster_ok, bed)
        return f"Redis master {victim.name} killed; cluster ok again after {took:.2f} s"

    return await run(bed.url, "kill a Redis master", fault, load)


def _wait_cluster_ok(bed: Bed) -> float:
    started = time.monotonic()
    bed.redis.wait_ok(30)
    return time.monotonic() - started


async def restart_postgres(bed: Bed, load: Load = Load()) -> Figures:
    async def fault() -> str:
        took = await asyncio.to_thread(bed.postgres.restart)
        return f"PostgreSQL restarted in {took:.2f} s"

    return await run(bed.url, "restart PostgreSQL", fault, load)


async def read_event(lines: Any, timeout_s: float) -> dict[str, Any] | None:
    """The next `data:` of a stream, or None when it ended or broke."""
    try:
        async with asyncio.timeout(timeout_s):
            async for line in lines:
                if line.startswith("data:"):
                    return json.loads(line[len("data:") :])  # type: ignore[no-any-return]
    except (httpx.HTTPError, TimeoutError):
        return None
    return None


async def streams_across_a_killed_host(bed: Bed, name: str = "host1") -> dict[str, Any]:
    """Waiting participants hold event streams (spread over the hosts by the balancer);
    a host is SIGKILLed; each broken stream reconnects through the balancer, to another
    host, and resumes with its current state; admissions then reach every stream."""
    admin, room = await restricted_room(bed.url)
    guests = [HttpBrowser(bed.url, timeout=httpx.Timeout(10, read=30)) for _ in range(6)]
    figures: dict[str, Any] = {"streams": len(guests), "broken": 0, "reconnected": 0}
    try:
        places = []
        for index, guest in enumerate(guests):
            response = await guest.post(
                f"{API}/rooms/{room['slug']}/request-entry/", json={"username": f"g{index}"}
            )
            assert response.status_code == 200, response.text
            places.append(response.json()["id"])
        url = f"{API}/rooms/{room['id']}/lobby-events/"

        async def follow(guest: HttpBrowser, killed: asyncio.Event) -> str:
            status = "waiting"
            for _attempt in range(5):
                try:
                    async with guest.stream("GET", url) as stream:
                        lines = stream.aiter_lines()
                        while True:
                            event = await read_event(lines, 60)
                            if event is None or "status" not in event:
                                break  # ended, broke, or told to reconnect
                            status = str(event["status"])
                            if status != "waiting":
                                return status
                except httpx.HTTPError:
                    pass
                figures["broken"] += 1
                await killed.wait()
                figures["reconnected"] += 1
            return status

        killed = asyncio.Event()
        followers = [asyncio.create_task(follow(g, killed)) for g in guests]
        await asyncio.sleep(1.0)  # every stream open
        host = bed.host_named(name)
        host.signal(signal.SIGKILL)
        killed.set()
        await asyncio.to_thread(bed.balancer.wait_states, {name: "DOWN"})
        for place in places:
            response = await admin.post(
                f"{API}/rooms/{room['id']}/enter/",
                json={"participant_id": place, "allow_entry": True},
            )
            assert response.status_code == 200, response.text
        async with asyncio.timeout(60):
            figures["final"] = await asyncio.gather(*followers)
        host.stop()
        host.start()
        await asyncio.to_thread(bed.all_up)
        return figures
    finally:
        await admin.aclose()
        for guest in guests:
            await guest.aclose()
