"""Publish/subscribe between processes: Redis pub/sub, or in-process for one process.

Each process keeps ONE Redis pub/sub connection and fans each message out to the local
subscriptions of its open streams: plain ones (every message of a channel, as published),
or a `Topic`'s (decoded once per process, handed only to the followers of its key). Both
brokers share that in-process side (`_LocalSide`). Subscribe before reading the state you
then follow, so nothing falls in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster

from antechamber.redis_client import RedisClient, text

logger = logging.getLogger(__name__)
CLOSE_TIMEOUT_S = 1.0
READ_TICK_S = 1.0
SUBSCRIBE_WAIT_S = 2.0
M = TypeVar("M")


class SubscriptionEnded(Exception):
    """The process is stopping: whoever follows this subscription must end its stream."""


class Subscription(Generic[M]):
    """What one follower receives: messages in order, then the end. Small on purpose
    (a list and at most one waiting future, not an asyncio.Queue): a process holds one
    per open stream, thousands of them."""

    __slots__ = ("_items", "_waiter", "delivered", "ended")

    def __init__(self) -> None:
        self._items: list[M] = []
        self._waiter: asyncio.Future[None] | None = None
        self.ended = False
        self.delivered = 0  # messages handed to this follower since it subscribed

    def put(self, message: M) -> None:
        self._items.append(message)
        self.delivered += 1
        self._wake()

    def end(self) -> None:
        if not self.ended:
            self.ended = True
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def pending(self) -> int:
        """Messages received and not yet taken by `next`."""
        return len(self._items)

    async def next(self, wait_s: float) -> M | None:
        """The next message, or None when `wait_s` seconds pass without one; raises
        SubscriptionEnded once the broker ends its subscriptions (after the messages
        received before the end)."""
        if not self._items and not self.ended:
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            # asyncio.timeout, not wait_for: no inner task whose cancellation could be lost
            # when the stream itself is cancelled (a client leaving, a shutdown).
            try:
                async with asyncio.timeout(wait_s):
                    await waiter
            except TimeoutError:
                return None
            finally:
                self._waiter = None
        if self._items:
            return self._items.pop(0)
        if self.ended:
            raise SubscriptionEnded
        return None


Listener = Callable[[str], None]
ChannelListener = Callable[[str, str], None]


class _Followers(Generic[M]):
    """The subscriptions of one channel within a topic: those that follow one key, and
    those that want every message (key None)."""

    __slots__ = ("by_key", "every")

    def __init__(self) -> None:
        self.every: set[Subscription[M]] = set()
        self.by_key: dict[str, set[Subscription[M]]] = {}

    def __bool__(self) -> bool:
        return bool(self.every or self.by_key)


class Topic(Generic[M]):
    """Subscriptions to channels whose messages are decoded and dispatched by key.

    A message on a channel that somebody in the process follows is decoded ONCE (not once
    per follower), then handed only to the subscriptions that follow its key
    (`key_of(decoded)`) and to those that follow the whole channel (key None). So in a
    room of 5,000 open streams an event wakes the one stream it concerns (and the
    room's admins), not 5,000. A message that fails to decode is logged and dropped.
    Made by a broker's `topic()`, fed by the same fan-out as its plain subscriptions."""

    def __init__(
        self,
        decode: Callable[[str], M],
        key_of: Callable[[M], str] | None,
        start: Callable[[], Awaitable[None]],
        ended: bool,
    ) -> None:
        self._decode = decode
        self._key_of = key_of
        self._start = start
        self._channels: dict[str, _Followers[M]] = {}
        self.ended = ended
        self.decoded = 0  # messages decoded, all channels together

    @contextlib.asynccontextmanager
    async def subscribe(
        self, channel: str, key: str | None = None
    ) -> AsyncIterator[Subscription[M]]:
        """Follows `channel`'s messages of `key` (every message when None), from the
        moment this returns: subscribe BEFORE reading the state you then follow."""
        await self._start()
        subscription: Subscription[M] = Subscription()
        if self.ended:
            subscription.end()
        followers = self._channels.get(channel)
        if followers is None:
            followers = self._channels[channel] = _Followers()
        if key is None:
            followers.every.add(subscription)
        else:
            followers.by_key.setdefault(key, set()).add(subscription)
        try:
            yield subscription
        finally:
            self._remove(channel, key, subscription)

    def _remove(self, channel: str, key: str | None, subscription: Subscription[M]) -> None:
        followers = self._channels.get(channel)
        if followers is None:
            return
        if key is None:
            followers.every.discard(subscription)
        else:
            same_key = followers.by_key.get(key)
            if same_key is not None:
                same_key.discard(subscription)
                if not same_key:
                    del followers.by_key[key]
        if not followers:
            del self._channels[channel]

    def deliver(self, channel: str, message: str) -> None:
        followers = self._channels.get(channel)
        if followers is None:
            return
        try:
            decoded = self._decode(message)
            key = self._key_of(decoded) if self._key_of is not None else None
        except Exception:
            logger.exception("undecodable message on %s dropped", channel)
            return
        self.decoded += 1
        for subscription in followers.every:
            subscription.put(decoded)
        if key is not None:
            for subscription in followers.by_key.get(key, ()):
                subscription.put(decoded)

    def end_all(self) -> None:
        self.ended = True
        for followers in self._channels.values():
            for subscription in followers.every:
                subscription.end()
            for same_key in followers.by_key.values():
                for subscription in same_key:
                    subscription.end()

    def clear(self) -> None:
        self._channels.clear()


def _as_is(message: str) -> str:
    return message


class Broker(Protocol):
    async def publish(self, channel: str, message: str) -> None: ...

    def listen(self, channel: str, listener: Listener) -> None:
        """Calls `listener` with every message on `channel`, for the broker's lifetime.
        For cheap synchronous reactions (dropping a cache entry); no task to cancel."""
        ...

    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[Subscription[str]]:
        """Every message of `channel`, as published."""
        ...

    def topic(self, decode: Callable[[str], M], key_of: Callable[[M], str]) -> Topic[M]:
        """Subscriptions to decoded messages by key (see `Topic`). Make one per kind of
        message and keep it for the broker's lifetime."""
        ...

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
    def __init__(self, start: Callable[[], Awaitable[None]]) -> None:
        self._start = start
        self.plain: Topic[str] = Topic(_as_is, None, start, ended=False)
        self.topics: list[Topic[Any]] = [self.plain]
        self.listeners: dict[str, list[Listener]] = defaultdict(list)
        self.catch_all: list[ChannelListener] = []
        self.ended = False

    def topic(self, decode: Callable[[str], M], key_of: Callable[[M], str]) -> Topic[M]:
        topic = Topic(decode, key_of, self._start, ended=self.ended)
        self.topics.append(topic)
        return topic

    def end_all(self) -> None:
        self.ended = True
        for topic in self.topics:
            topic.end_all()

    def clear(self) -> None:
        for topic in self.topics:
            topic.clear()

    def deliver(self, channel: str, message: str) -> None:
        for topic in self.topics:
            topic.deliver(channel, message)
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
    """What both brokers do within the process: listeners, subscribers and topics of a
    channel, fed by `_fanout` (the memory broker's publish, the Redis broker's reader)."""

    _fanout: _Fanout

    async def start(self) -> None:
        return None

    def listen(self, channel: str, listener: Listener) -> None:
        self._fanout.listen(channel, listener)

    def listen_all(self, listener: ChannelListener) -> None:
        self._fanout.catch_all.append(listener)

    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[Subscription[str]]:
        return self._fanout.plain.subscribe(channel)

    def topic(self, decode: Callable[[str], M], key_of: Callable[[M], str]) -> Topic[M]:
        return self._fanout.topic(decode, key_of)

    def end_subscriptions(self) -> None:
        self._fanout.end_all()


class MemoryBroker(_LocalSide):
    def __init__(self) -> None:
        self._fanout = _Fanout(self.start)

    async def publish(self, channel: str, message: str) -> None:
        self._fanout.deliver(channel, message)

    def publish_now(self, channel: str, message: str) -> None:
        self._fanout.deliver(channel, message)

    async def close(self) -> None:
        self._fanout.clear()


class RedisBroker(_LocalSide):
    """One pattern subscription per process, made once, covering every channel the
    process may follow; local subscribers only register a queue. No SUBSCRIBE or
    UNSUBSCRIBE ever races the reader, and a reconnect restores everything at once."""

    def __init__(self, redis: RedisClient, patterns: tuple[str, ...]) -> None:
        self._redis = redis
        self._node_client: Redis | None = None
        self._failed_node: str | None = None
        self._patterns = patterns
        self._fanout = _Fanout(self.start)
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
