"""Publish/subscribe between processes: Redis pub/sub, or in-process for one process.

Each process keeps ONE Redis pub/sub connection, subscribed to the channels its open
event streams need (reference-counted), and fans each message out to local queues.
Subscribe before reading the state you then follow, so nothing falls in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Protocol

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

logger = logging.getLogger(__name__)


class Subscription:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue()

    async def next(self, wait_s: float) -> str | None:
        """The next message, or None when `wait_s` seconds pass without one."""
        try:
            return await asyncio.wait_for(self.queue.get(), wait_s)
        except TimeoutError:
            return None


class Broker(Protocol):
    async def publish(self, channel: str, message: str) -> None: ...

    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[Subscription]: ...

    async def close(self) -> None: ...


class _Fanout:
    def __init__(self) -> None:
        self.subscribers: dict[str, set[Subscription]] = defaultdict(set)

    def deliver(self, channel: str, message: str) -> None:
        for subscription in self.subscribers.get(channel, ()):
            subscription.queue.put_nowait(message)


class MemoryBroker:
    def __init__(self) -> None:
        self._fanout = _Fanout()

    async def publish(self, channel: str, message: str) -> None:
        self._fanout.deliver(channel, message)

    def publish_now(self, channel: str, message: str) -> None:
        self._fanout.deliver(channel, message)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        subscription = Subscription()
        self._fanout.subscribers[channel].add(subscription)
        try:
            yield subscription
        finally:
            self._remove(channel, subscription)

    def _remove(self, channel: str, subscription: Subscription) -> None:
        subscribers = self._fanout.subscribers.get(channel)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._fanout.subscribers[channel]

    async def close(self) -> None:
        self._fanout.subscribers.clear()


class RedisBroker:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._fanout = _Fanout()
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._subscribed = asyncio.Event()

    async def publish(self, channel: str, message: str) -> None:
        await self._redis.publish(channel, message)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        subscription = Subscription()
        async with self._lock:
            pubsub = self._ensure_reader()
            if channel not in self._fanout.subscribers:
                await pubsub.subscribe(channel)
                self._subscribed.set()
            self._fanout.subscribers[channel].add(subscription)
        try:
            yield subscription
        finally:
            async with self._lock:
                subscribers = self._fanout.subscribers.get(channel)
                if subscribers is not None:
                    subscribers.discard(subscription)
                    if not subscribers:
                        del self._fanout.subscribers[channel]
                        with contextlib.suppress(Exception):
                            await pubsub.unsubscribe(channel)

    def _ensure_reader(self) -> PubSub:
        if self._pubsub is None:
            self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(self._pubsub), name="pubsub-reader")
        return self._pubsub

    async def _read(self, pubsub: PubSub) -> None:
        while True:
            try:
                if not pubsub.subscribed:
                    # Nothing to read until a stream subscribes.
                    self._subscribed.clear()
                    await self._subscribed.wait()
                    continue
                message = await pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The connection dropped: redis-py reconnects and resubscribes on the next
                # read; streams re-read their state on their next refresh.
                logger.warning("pub/sub connection lost; reconnecting", exc_info=True)
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            data = message["data"]
            self._fanout.deliver(
                channel.decode() if isinstance(channel, bytes) else channel,
                data.decode() if isinstance(data, bytes) else data,
            )

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
