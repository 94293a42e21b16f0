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
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import (
    ClusterDownError,
    ConnectionError,
    MasterDownError,
    NoScriptError,
    RedisClusterException,
    SlotNotCoveredError,
    TimeoutError,
    TryAgainError,
)

from antechamber.settings import CLUSTER_SCHEME, RedisSettings

logger = logging.getLogger(__name__)
REDIS_TIMEOUT_S = 5.0
# At most this many connections per process run the hottest script (`ScriptLane`).
LANE_CONNECTIONS = 8
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
            # The rest of the process' budget is the script lane's (`ScriptLane`).
            max_connections=settings.max_connections - lane_size(settings),
            timeout=REDIS_TIMEOUT_S,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            health_check_interval=30,
            retry=REDIS_RETRY,
        )
    )


def lane_size(settings: RedisSettings) -> int:
    """How many of a process' `max_connections` the script lane holds (one server only)."""
    return min(LANE_CONNECTIONS, settings.max_connections // 4)


Part = str | int | bytes


def _pack(parts: Sequence[Part]) -> bytes:
    """A command in the protocol's request form (RESP arrays of bulk strings)."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        if isinstance(part, str):
            data = part.encode()
        elif isinstance(part, bytes):
            data = part
        else:
            data = b"%d" % part
        out += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(out)


class ScriptLane:
    """Runs the hottest script (a waiting participant's poll) with EVALSHA on a few
    connections of its own, past redis-py's per-command layers: its pool's condition and
    time-out, the client's retry and observability wrappers, the generic command
    encoder. They were about two thirds of a poll's Redis cost (issue 11).

    What a command needs is kept: connections are redis-py's own, made with the pool's
    settings (address, credentials, time-outs, health checks, TLS); a connection that
    fails is retried with the client's retry policy (a Redis restart costs one retry,
    not an error); an error, a time-out or a cancelled request disconnects it (redis-py
    does), so no answer is ever read by the wrong request; an unknown script (a
    restarted Redis forgets them) is loaded and run again. When every lane connection
    is busy the script runs through the client as usual, so the lane never makes a
    request wait.

    One server only: a Redis Cluster routes each script to its slot's node, which the
    cluster client does (`script_lane` gives None)."""

    def __init__(self, pool: ConnectionPool, size: int) -> None:
        self._pool = pool
        self._size = size
        self._idle: list[AbstractConnection] = []
        self._made: list[AbstractConnection] = []

    @property
    def connections(self) -> list[AbstractConnection]:
        """The connections it opened: at most its size."""
        return list(self._made)

    def _take(self) -> AbstractConnection | None:
        if self._idle:
            return self._idle.pop()
        if len(self._made) < self._size:
            connection = self._pool.connection_class(**self._pool.connection_kwargs)
            self._made.append(connection)
            return connection
        return None

    async def run(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Part]) -> Any:
        connection = self._take()
        if connection is None:
            return await script(keys=keys, args=args)
        try:
            return await connection.retry.call_with_retry(
                lambda: self._evalsha(connection, script, keys, args), _already_closed
            )
        finally:
            self._idle.append(connection)

    @staticmethod
    async def _evalsha(
        connection: AbstractConnection,
        script: AsyncScript,
        keys: Sequence[str],
        args: Sequence[Part],
    ) -> Any:
        command = _pack(("EVALSHA", script.sha, len(keys), *keys, *args))
        await connection.send_packed_command(command)
        try:
            return await connection.read_response()
        except NoScriptError:
            source = script.script
            assert isinstance(source, str | bytes)
            await connection.send_packed_command(_pack(("SCRIPT", "LOAD", source)))
            await connection.read_response()
            await connection.send_packed_command(command)
            return await connection.read_response()

    async def close(self) -> None:
        for connection in self._made:
            await connection.disconnect()


async def _already_closed(_error: Exception) -> None:
    """redis-py's connection disconnects itself on the errors its retry policy retries;
    the next try connects again."""


def script_lane(redis: RedisClient, settings: RedisSettings) -> ScriptLane | None:
    if isinstance(redis, RedisCluster):
        return None
    return ScriptLane(redis.connection_pool, lane_size(settings))


async def close_redis(redis: RedisClient) -> None:
    if isinstance(redis, RedisCluster):
        await redis.aclose()
    else:
        # The pool was passed in, so closing the client alone would leave it open.
        await redis.aclose(close_connection_pool=True)


def text(value: object) -> str:
    """A value Redis answered (bytes, whatever the client's decoding) as a string."""
    return value.decode() if isinstance(value, bytes) else str(value)
