"""The HTTP suites of every Redis user, re-run with `REDIS_URL` naming a 6-node Redis
Cluster (3 masters, 3 replicas) instead of one server: sessions, webhook dedupe, the
lobby over HTTP (rate limits, room-cache invalidation, the broker)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from antechamber.app import create_app
from tests.conftest import Backend, Stack, _clean, make_settings, running
from tests.redis_cluster import RedisClusterBed


@pytest.fixture
def backend(postgres_backend: Backend, redis_cluster: RedisClusterBed) -> Backend:
    """Overrides the root `backend`: PostgreSQL and the cluster, only."""
    return Backend("cluster", postgres_backend.database_url, redis_cluster.url)


@pytest.fixture
async def stack(
    backend: Backend, redis_cluster: RedisClusterBed, settings_overrides: dict[str, Any]
) -> AsyncIterator[Stack]:
    await _clean(Backend(backend.name, backend.database_url, None))
    redis_cluster.flush()
    settings = make_settings(backend, **settings_overrides)
    assert settings.uses_redis_cluster
    app = create_app(settings)
    async with running(app):
        yield Stack(app, backend, settings)
        assert app.state.services.engine.pool.checkedout() == 0
