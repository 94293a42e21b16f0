"""The one place a Redis client is built: one server, or a Redis Cluster.

`REDIS_URL=redis+cluster://host:port[,host:port...]` names any nodes of a cluster; the
client discovers the rest and routes each command to its slot's master. Every key the
service writes carries a `{...}` hash tag (a room's keys share one slot, so each Lua
script stays within one slot) or is a single key. Pub/sub is classic PUBLISH/PSUBSCRIBE,
which a cluster forwards to every node, so a process subscribed on any node hears every
publisher (see `pubsub.RedisBroker`).

A failover (a master lost, its replica promoted) leaves some slots unserved for a few
seconds: calls are retried with backoff on the refreshed topology for up to
`REDIS_CLUSTER_RETRY_S` before they fail (and the request answers 503).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import (
    ClusterDownError,
    ConnectionError,
    MasterDownError,
    RedisClusterException,
    SlotNotCoveredError,
    TimeoutError,
    TryAgainError,
)

from antechamber.settings import CLUSTER_SCHEME, RedisSettings

logger = logging.getLogger(__name__)
REDIS_TIMEOUT_S = 5.0
RedisClient = Redis | RedisCluster
# One server: a pooled connection that a Redis restart broke fails on its next use: that
# command is retried at once on a fresh connection. Short and few, so a Redis that is
# really down answers 503 within milliseconds instead of holding the request. Time-outs
# are not retried (a slow Redis would hold each request several times the time-out).
REDIS_RETRY = Retry(ExponentialBackoff(cap=0.2, base=0.02), 2, (ConnectionError,))
T = TypeVar("T")
# What a failover looks like from a client: the old master gone, its slots unserved, then
# MOVED to the promoted replica (which redis-py follows by itself).
_TOPOLOGY_ERRORS = (
    ConnectionError,
    TimeoutError,
    ClusterDownError,
    MasterDownError,
    RedisClusterException,
    SlotNotCoveredError,
    TryAgainError,
    # Raised while re-reading the slot map mid-failover ("cannot be connected", "slots
    # not covered"); a programming error of this kind would only fail later.
    RedisClusterException,
)
_FIRST_DELAY_S = 0.05
_MAX_DELAY_S = 0.5


class FailoverRedisCluster(RedisCluster):
    """redis-py's cluster client retries a few times at once; a failover takes seconds.
    This one keeps retrying with backoff (refreshing the slot map each time) within a
    time budget. A write whose answer was lost may run twice: every script the service
    runs is idempotent for a repeat (a place found again, a decision already taken)."""

    def __init__(self, *args: Any, retry_budget_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_budget_s = retry_budget_s

    async def _retrying(self, call: Callable[[], Awaitable[T]], what: object) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_budget_s
        delay = _FIRST_DELAY_S
        while True:
            try:
                return await call()
            except _TOPOLOGY_ERRORS as exc:
                if loop.time() + delay > deadline:
                    raise
                logger.warning(
                    "Redis Cluster %s failed (%s); retrying on a fresh topology",
                    what,
                    type(exc).__name__,
                )
                # Re-read the slot map before the next try, from another node than the
                # one that may just have died.
                self._initialize = True
                with contextlib.suppress(Exception):
                    self.replace_default_node()
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_DELAY_S)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        return await self._retrying(
            lambda: RedisCluster.execute_command(self, *args, **kwargs),
            args[0] if args else "command",
        )

    async def _split_command_across_slots(  # type: ignore[override]
        self, command: str, *keys: Any
    ) -> int:
        # EXISTS, DEL... take redis-py's per-slot pipeline path, not execute_command.
        split = RedisCluster._split_command_across_slots
        return await self._retrying(lambda: split(self, command, *keys), command)

    async def ping(self, **kwargs: Any) -> bool:
        """Readiness: the cluster answers if a node does. (redis-py pings every node, so
        one dead master would make every process unready during a failover that it is
        riding out with retries.)"""
        return bool(
            await self._retrying(
                lambda: RedisCluster.execute_command(
                    self, "PING", target_nodes=self.get_random_node()
                ),
                "PING",
            )
        )


def cluster_nodes(url: str) -> list[tuple[str, int]]:
    """`redis+cluster://[user:pass@]h1:p1,h2:p2` -> [(h1, p1), (h2, p2)]."""
    rest = url[len(CLUSTER_SCHEME) :]
    netloc = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    nodes = []
    for part in netloc.split(","):
        host, _, port = part.strip().rpartition(":")
        nodes.append((host or part.strip(), int(port) if port else 6379))
    return nodes


def _cluster_credentials(url: str) -> dict[str, str]:
    netloc = url[len(CLUSTER_SCHEME) :].split("/", 1)[0]
    if "@" not in netloc:
        return {}
    userinfo = netloc.rsplit("@", 1)[0]
    user, _, password = userinfo.partition(":")
    credentials = {"password": urllib.parse.unquote(password)}
    if user:
        credentials["username"] = urllib.parse.unquote(user)
    return credentials


def build_redis(settings: RedisSettings) -> RedisClient | None:
    if settings.url is None:
        return None
    if settings.url.startswith(CLUSTER_SCHEME):
        return FailoverRedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in cluster_nodes(settings.url)],
            max_connections=settings.max_connections,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            retry_budget_s=settings.cluster_retry_s,
            **_cluster_credentials(settings.url),
        )
    return Redis(
        connection_pool=BlockingConnectionPool.from_url(
            settings.url,
            max_connections=settings.max_connections,
            timeout=REDIS_TIMEOUT_S,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            health_check_interval=30,
            retry=REDIS_RETRY,
        )
    )


async def close_redis(redis: RedisClient) -> None:
    if isinstance(redis, RedisCluster):
        await redis.aclose()
    else:
        # The pool was passed in, so closing the client alone would leave it open.
        await redis.aclose(close_connection_pool=True)


def text(value: object) -> str:
    """A value Redis answered (bytes, whatever the client's decoding) as a string."""
    return value.decode() if isinstance(value, bytes) else str(value)
