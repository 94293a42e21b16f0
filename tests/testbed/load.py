"""Traffic through the balancer while a fault happens, and what it cost: requests,
failures by status, time to recover, and anything acknowledged that was lost.

Visitors wait in a restricted room's lobby and poll request-entry; an admin admits some
of them while the run goes on. Acknowledged means answered 200: a place (its id) must
stay the same place, and an admission answered 200 must stay an admission. Every
visitor's last poll, after the run, checks that.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.http_server import HttpBrowser

API = "/api/v1.0"


@dataclass
class Figures:
    name: str
    requests: int = 0
    ok: int = 0
    failures: collections.Counter[str] = field(default_factory=collections.Counter)
    fault_at: float | None = None
    last_failure_at: float | None = None
    decisions: int = 0
    lost: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def failed(self, kind: str) -> None:
        self.failures[kind] += 1
        self.last_failure_at = time.monotonic()

    @property
    def recovery_s(self) -> float:
        if self.fault_at is None or self.last_failure_at is None:
            return 0.0
        return max(0.0, self.last_failure_at - self.fault_at)

    def line(self) -> str:
        failures = dict(self.failures) or "none"
        text = (
            f"{self.name}: {self.requests} requests, {self.ok} ok, failures {failures}, "
            f"recovered {self.recovery_s:.2f} s after the fault, {self.decisions} admissions, "
            f"lost {len(self.lost)}"
        )
        if self.notes:
            text += " (" + "; ".join(self.notes) + ")"
        return text


async def restricted_room(url: str) -> tuple[HttpBrowser, dict[str, Any]]:
    admin = HttpBrowser(url)
    await admin.login("admin@example.com")
    response = await admin.post(
        f"{API}/rooms/", json={"name": f"bed-{time.monotonic()}", "access_level": "restricted"}
    )
    assert response.status_code == 201, response.text
    return admin, response.json()


class Visitor:
    def __init__(self, url: str, index: int) -> None:
        self.client = HttpBrowser(url)
        self.name = f"visitor-{index}"
        self.place: str | None = None
        self.admitted = False  # an admission was acknowledged

    async def poll(self, room: dict[str, Any], figures: Figures) -> None:
        # Only a poll sent after the admission was acknowledged must see it (one already
        # in flight, or retried by the balancer, may rightly still say waiting).
        admitted = self.admitted
        figures.requests += 1
        try:
            response = await self.client.post(
                f"{API}/rooms/{room['slug']}/request-entry/", json={"username": self.name}
            )
        except httpx.HTTPError as exc:
            figures.failed(type(exc).__name__)
            return
        if response.status_code != 200:
            figures.failed(str(response.status_code))
            return
        figures.ok += 1
        body = response.json()
        if self.place is None:
            self.place = body["id"]
        elif body["id"] != self.place:
            figures.lost.append(f"{self.name}: place {self.place} became {body['id']}")
            self.place = body["id"]
        if admitted and body["status"] != "accepted":
            figures.lost.append(f"{self.name}: admission lost ({body['status']})")


@dataclass(frozen=True)
class Load:
    visitors: int = 20
    duration_s: float = 8.0
    fault_after_s: float = 2.0
    interval_s: float = 0.1


async def run(
    url: str, name: str, fault: Callable[[], Awaitable[Any]] | None, load: Load = Load()
) -> Figures:
    visitors, duration_s = load.visitors, load.duration_s
    fault_after_s, interval_s = load.fault_after_s, load.interval_s
    figures = Figures(name)
    admin, room = await restricted_room(url)
    people = [Visitor(url, i) for i in range(visitors)]
    stop_at = time.monotonic() + duration_s

    async def visit(visitor: Visitor) -> None:
        while time.monotonic() < stop_at:
            await visitor.poll(room, figures)
            await asyncio.sleep(interval_s)

    async def admit() -> None:
        # Admits one visitor every half second, recording only acknowledged admissions.
        index = 0
        while time.monotonic() < stop_at and index < len(people):
            await asyncio.sleep(0.5)
            visitor = people[index]
            if visitor.place is None:
                continue
            figures.requests += 1
            try:
                response = await admin.post(
                    f"{API}/rooms/{room['id']}/enter/",
                    json={"participant_id": visitor.place, "allow_entry": True},
                )
            except httpx.HTTPError as exc:
                figures.failed(type(exc).__name__)
                continue
            if response.status_code == 200:
                figures.ok += 1
                figures.decisions += 1
                visitor.admitted = True
                index += 1
            else:
                figures.failed(str(response.status_code))

    async def inject() -> None:
        if fault is None:
            return
        await asyncio.sleep(fault_after_s)
        figures.fault_at = time.monotonic()
        result = await fault()
        if isinstance(result, str):
            figures.notes.append(result)

    try:
        await asyncio.gather(*(visit(v) for v in people), admit(), inject())
        # The final check: every place and every admission still there.
        for visitor in people:
            for _attempt in range(20):
                before = len(figures.lost)
                ok = figures.ok
                await visitor.poll(room, figures)
                if figures.ok > ok or len(figures.lost) > before:
                    break
                await asyncio.sleep(0.5)
            if visitor.place is None:
                figures.notes.append(f"{visitor.name} never got a place")
    finally:
        await admin.aclose()
        for visitor in people:
            await visitor.client.aclose()
    return figures
