"""Everything a request may need, built once per process in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from antechamber.auth.oidc import OIDCClient
from antechamber.auth.sessions import (
    KeyValueStore,
    MemoryKeyValueStore,
    RedisKeyValueStore,
    SessionService,
)
from antechamber.db.session import create_engine, create_sessionmaker
from antechamber.lobby.memory_store import MemoryLobbyStore
from antechamber.lobby.notify import WaitingNotifier
from antechamber.lobby.redis_store import RedisLobbyStore
from antechamber.lobby.service import LobbyService
from antechamber.lobby.store import LobbyStore, Timeouts
from antechamber.pubsub import Broker, MemoryBroker, RedisBroker
from antechamber.rooms.cache import RoomCache
from antechamber.settings import Settings
from antechamber.tokens.service import TokenIssuer


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis | None
    kv: KeyValueStore
    sessions: SessionService
    tokens: TokenIssuer
    oidc: OIDCClient | None
    broker: Broker
    room_cache: RoomCache
    notifier: WaitingNotifier
    lobby: LobbyService

    @property
    def secret_key(self) -> bytes:
        return self.settings.secret_key.get_secret_value().encode()

    async def close(self) -> None:
        await self.notifier.drain()
        await self.lobby.store.close()
        await self.broker.close()
        if self.oidc is not None:
            await self.oidc.close()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()


def build_services(settings: Settings) -> Services:
    engine = create_engine(settings.database)
    redis = (
        Redis.from_url(settings.redis.url, health_check_interval=30, socket_timeout=5)
        if settings.redis.url
        else None
    )
    kv: KeyValueStore = RedisKeyValueStore(redis) if redis is not None else MemoryKeyValueStore()
    tokens = TokenIssuer(settings)
    lobby_settings = settings.lobby
    timeouts = Timeouts(
        waiting_ms=lobby_settings.waiting_timeout_s * 1000,
        accepted_ms=lobby_settings.accepted_timeout_s * 1000,
        denied_ms=lobby_settings.denied_timeout_s * 1000,
    )
    broker: Broker
    store: LobbyStore
    if redis is not None:
        broker = RedisBroker(redis)
        store = RedisLobbyStore(redis, timeouts)
    else:
        memory_broker = MemoryBroker()
        broker = memory_broker
        store = MemoryLobbyStore(timeouts, memory_broker.publish_now)
    notifier = WaitingNotifier(None)
    return Services(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        redis=redis,
        kv=kv,
        sessions=SessionService(kv, settings.session_ttl_s),
        tokens=tokens,
        oidc=OIDCClient(settings.oidc, kv) if settings.oidc.enabled else None,
        broker=broker,
        room_cache=RoomCache(),
        notifier=notifier,
        lobby=LobbyService(store, settings, tokens, notifier),
    )
