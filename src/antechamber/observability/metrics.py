"""Prometheus metrics, one `Metrics` per process (built with the app, never at import).

With several uvicorn workers each worker writes its values to files in a shared folder
(prometheus-client's multiprocess mode, switched on by `PROMETHEUS_MULTIPROC_DIR`, which
`antechamber serve` sets), and a scrape of any worker reads them all. Labels are bounded:
routes are the route templates, never raw paths, and nothing carries a room or a person.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

PREFIX = "antechamber"
CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
SIZE_BUCKETS = (0, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000)


class Metrics:
    def __init__(self, multiprocess_dir: Path | None = None) -> None:
        self._dir = multiprocess_dir
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            f"{PREFIX}_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "Time from a request's arrival to its last byte (event streams: their lifetime).",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.lobby_requests = Counter(
            f"{PREFIX}_lobby_requests",
            "request-entry calls by outcome (created, existing, direct, full, limited, banned).",
            ["outcome"],
            registry=r,
        )
        self.lobby_decisions = Counter(
            f"{PREFIX}_lobby_decisions",
            "Admins' decisions by decision (accepted, denied) and outcome.",
            ["decision", "outcome"],
            registry=r,
        )
        self.lobby_waiting = Histogram(
            f"{PREFIX}_lobby_waiting_participants",
            "Size of a room's waiting list each time it is read from the store.",
            buckets=SIZE_BUCKETS,
            registry=r,
        )
        self.streams = Gauge(
            f"{PREFIX}_event_streams_open",
            "Server-sent event streams open now, by kind (participant, admin).",
            ["kind"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self.webhooks = Counter(
            f"{PREFIX}_webhook_events",
            "LiveKit webhook deliveries by event type and outcome.",
            ["type", "outcome"],
            registry=r,
        )
        self.livekit_calls = Counter(
            f"{PREFIX}_livekit_calls",
            "Calls to LiveKit's server API by method and outcome.",
            ["method", "outcome"],
            registry=r,
        )
        self.dependency_errors = Counter(
            f"{PREFIX}_dependency_errors",
            "Failures talking to Redis or PostgreSQL, by dependency.",
            ["dependency"],
            registry=r,
        )

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        # The labelled children, looked up once per (method, route, status): `labels()`
        # validates and locks on every call, most of a request's metrics cost. Bounded as
        # the labels are (the server accepts a fixed set of methods).
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def dependency_error(self, dependency: str) -> None:
        self.dependency_errors.labels(dependency).inc()

    def close(self) -> None:
        """A worker leaving: its open-stream gauges stop counting (a worker killed
        outright leaves its last values until the folder is emptied at the next start)."""
        if self._dir is not None:
            mark_process_dead(os.getpid(), str(self._dir))  # type: ignore[no-untyped-call]

    def exposition(self) -> bytes:
        """The text a scrape gets: every worker's values in multiprocess mode."""
        if self._dir is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=str(self._dir))  # type: ignore[no-untyped-call]
        return generate_latest(merged)
