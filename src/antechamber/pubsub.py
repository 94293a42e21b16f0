"""Publish/subscribe between processes: Redis pub/sub, or in-process for one process.

Each process keeps ONE Redis pub/sub connection and fans each message out to the local
queues of its open streams. Subscribe before reading the state you then follow, so
nothing falls in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster

from antechamber.redis_client import RedisClient, text

logger = logging.getLogger(__name__)
CLOSE_TIMEOUT_S = 1.0
READ_TICK_S = 1.0
SUBSCRIBE_WAIT_S = 2.0


class SubscriptionEnded(Exception):
    """The process is stopping: whoever follows this subscription must end its stream."""


class Subscription:
    def __init__(self) -> None:
        # None in the queue marks the end.
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.ended = False

    def end(self) -> None:
        if not self.ended:
            self.ended = True
            self.queue.put_nowait(None)

    async def next(self, wait_s: float) -> str | None:
        """The next message, or None when `wait_s` seconds pass without one; raises
        SubscriptionEnded once the broker ends its subscriptions."""
        # asyncio.timeout, not wait_for: no inner task whose cancellation could be lost
        # when the stream itself is cancelled (a client leaving, a shutdown).
        try:
            async with asyncio.timeout(wait_s):
                message = await self.queue.get()
        except TimeoutError:
            return None
        if message is None:
            raise SubscriptionEnded
        return message


Listener = Callable[[str], None]
ChannelListener = Callable[[str, str], None]


class Broker(Protocol):
    async def publish(self, channel: str, message: str) -> None: ...

    def listen(self, channel: str, listener: Listener) -> None:
        """Calls `listener` with every message on `channel`, for the broker's lifetime.
        For cheap synchronous reactions (dropping a cache entry); no task to cancel."""
        ...

    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[Subscription]: ...

    def end_subscriptions(self) -> None:
        """Ends every open subscription, and every later one at once (a stopping process)."""
        ...

    def listen_all(self, listener: ChannelListener) -> None:
        """Calls `listener(channel, message)` for every message the process receives."""
        ...

    async def start(self) -> None:
        """Begins receiving (a no-op where there is nothing to connect)."""
        ...

    async def close(self) -> None: ...


class _Fanout:
    def __init__(self) -> None:
        self.subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self.listeners: dict[str, list[Listener]] = defaultdict(list)
        self.catch_all: list[ChannelListener] = []
        self.ended = False

    def add(self, channel: str) -> Subscription:
        subscription = Subscription()
        if self.ended:
            subscription.end()
        self.subscribers[channel].add(subscription)
        return subscription

    def remove(self, channel: str, subscription: Subscription) -> None:
        subscribers = self.subscribers.get(channel)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self.subscribers[channel]

    def end_all(self) -> None:
        self.ended = True
        for subscriptions in self.subscribers.values():
            for subscription in subscriptions:
                subscription.end()

    def deliver(self, channel: str, message: str) -> None:
        for subscription in self.subscribers.get(channel, ()):
            subscription.queue.put_nowait(message)
        for listener in self.listeners.get(channel, ()):
            try:
                listener(message)
            except Exception:
                logger.exception("listener on %s failed", channel)
        for channel_listener in self.catch_all:
            try:
                channel_listener(channel, message)
            except Exception:
                logger.exception("listener on every channel failed (%s)", channel)

    def listen(self, channel: str, listener: Listener) -> None:
        self.listeners[channel].append(listener)


class _LocalSide:
    """What both brokers do within the process: listeners and subscribers of a channel,
    fed by `_fanout` (the memory broker's publish, the Redis broker's reader)."""

    _fanout: _Fanout

    async def start(self) -> None:
        return None

    def listen(self, channel: str, listener: Listener) -> None:
        self._fanout.listen(channel, listener)

    def listen_all(self, listener: ChannelListener) -> None:
        self._fanout.catch_all.append(listener)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        await self.start()
        subscription = self._fanout.add(channel)
        try:
            yield subscription
        finally:
            self._fanout.remove(channel, subscription)

    def end_subscriptions(self) -> None:
        self._fanout.end_all()


class MemoryBroker(_LocalSide):
    def __init__(self) -> None:
        self._fanout = _Fanout()

    async def publish(self, channel: str, message: str) -> None:
        self._fanout.deliver(channel, message)

    def publish_now(self, channel: str, message: str) -> None:
        self._fanout.deliver(channel, message)

    async def close(self) -> None:
        self._fanout.subscribers.clear()


class RedisBroker(_LocalSide):
    """One pattern subscription per process, made once, covering every channel the
    process may follow; local subscribers only register a queue. No SUBSCRIBE or
    UNSUBSCRIBE ever races the reader, and a reconnect restores everything at once."""

    def __init__(self, redis: RedisClient, patterns: tuple[str, ...]) -> None:
        self._redis = redis
        self._node_client: Redis | None = None
        self._failed_node: str | None = None
        self._patterns = patterns
        self._fanout = _Fanout()
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        self._subscribed = asyncio.Event()

    async def publish(self, channel: str, message: str) -> None:
        await self._redis.publish(channel, message)

    async def start(self) -> None:
        """Starts the reader, which subscribes (and retries while Redis is down, so the
        service starts and reports itself unready instead of failing to start)."""
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name="pubsub-reader")
        if not self._subscribed.is_set():
            # Subscribers must not miss what is published right after they subscribe.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SUBSCRIBE_WAIT_S):
                    await self._subscribed.wait()

    async def _connect(self) -> PubSub:
        """One server: its own pub/sub (redis-py reconnects it). A cluster: a plain
        connection to one node, another one than the node that just failed. Classic
        pub/sub, not sharded: a cluster forwards every PUBLISH to every node (masters and
        replicas), so any node hears every room, and one pattern subscription still
        covers every room; sharded pub/sub has no patterns, and would need a subscription
        per room on that room's master, redone at every failover."""
        if not isinstance(self._redis, RedisCluster):
            return self._redis.pubsub(ignore_subscribe_messages=True)
        await self._redis.initialize()  # learns the nodes (a no-op once it knows them)
        nodes = self._redis.get_nodes()
        healthy = [node for node in nodes if node.name != self._failed_node] or nodes
        node = random.choice(healthy)  # noqa: S311 - spreading load, not a secret
        given = node.connection_kwargs
        self._node_client = Redis(
            host=node.host,
            port=int(node.port),
            username=given.get("username"),
            password=given.get("password"),
            socket_connect_timeout=SUBSCRIBE_WAIT_S,
        )
        return self._node_client.pubsub(ignore_subscribe_messages=True)

    async def _drop_connection(self) -> None:
        """After a failure on a cluster: forget the node's connection, so the next try
        picks another node (the one we had may be the master that died)."""
        pubsub, client, self._pubsub, self._node_client = (
            self._pubsub,
            self._node_client,
            None,
            None,
        )
        if pubsub is not None:
            connection = pubsub.connection
            self._failed_node = (
                f"{connection.host}:{connection.port}"
                if connection is not None and hasattr(connection, "host")
                else None
            )
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pubsub.aclose(), CLOSE_TIMEOUT_S)  # type: ignore[no-untyped-call]
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.aclose(), CLOSE_TIMEOUT_S)

    async def _read(self) -> None:
        # A flag, not only cancellation: on Python 3.11 a cancel that lands while redis-py's
        # read time-out fires can come out as a time-out, and the loop would go on.
        while not self._closing:
            try:
                if self._pubsub is None:
                    self._pubsub = await self._connect()
                pubsub = self._pubsub
                if not pubsub.subscribed:
                    await pubsub.psubscribe(*self._patterns)
                    self._subscribed.set()
                message = await pubsub.get_message(timeout=READ_TICK_S)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - any failure of the connection is retried
                # The connection dropped: redis-py reconnects and re-subscribes on the next
                # read; streams re-read their state on their next tick.
                logger.warning("pub/sub connection to Redis lost; retrying")
                if isinstance(self._redis, RedisCluster):
                    await self._drop_connection()
                    await asyncio.sleep(0.2)
                else:
                    await asyncio.sleep(1.0)
                continue
            if message is None or message.get("type") != "pmessage":
                continue
            channel = message["channel"]
            data = message["data"]
            self._fanout.deliver(
                text(channel),
                text(data),
            )

    async def close(self) -> None:
        # Bounded waits: shutdown must never hang on a reader blocked in a socket read.
        self._closing = True
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.wait({self._reader}, timeout=READ_TICK_S + CLOSE_TIMEOUT_S)
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._pubsub.aclose(), CLOSE_TIMEOUT_S)  # type: ignore[no-untyped-call]
        if self._node_client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._node_client.aclose(), CLOSE_TIMEOUT_S)
