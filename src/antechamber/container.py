"""Everything a request may need, built once per process in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

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
from antechamber.livekit.gateway import LiveKitGateway
from antechamber.livekit.sdk_gateway import SdkLiveKitGateway
from antechamber.presence.redis_store import RedisPresenceStore
from antechamber.presence.store import MemoryPresenceStore, PresenceStore
from antechamber.rooms.service import is_registered_livekit_room
from antechamber.settings import Settings
from antechamber.tokens.service import TokenIssuer
from antechamber.webhooks.handlers import RoomFinishedListener, WebhookHandlers
from antechamber.webhooks.processed import (
    MemoryProcessedEvents,
    ProcessedEvents,
    RedisProcessedEvents,
)
from antechamber.webhooks.receiver import WebhookVerifier
from antechamber.webhooks.service import WebhookService


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
    livekit: LiveKitGateway
    presence: PresenceStore
    webhooks: WebhookService
    # Told when a LiveKit room ends; the webhook handlers read this very list.
    room_finished_listeners: list[RoomFinishedListener] = field(default_factory=list)

    @property
    def secret_key(self) -> bytes:
        return self.settings.secret_key.get_secret_value().encode()

    async def close(self) -> None:
        await self.livekit.close()
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
    sessionmaker = create_sessionmaker(engine)
    presence: PresenceStore
    processed: ProcessedEvents
    if redis is not None:
        presence, processed = RedisPresenceStore(redis), RedisProcessedEvents(redis)
    else:
        presence, processed = MemoryPresenceStore(), MemoryProcessedEvents()
    listeners: list[RoomFinishedListener] = [presence]

    async def is_registered(livekit_room: str) -> bool:
        async with sessionmaker() as db:
            return await is_registered_livekit_room(db, livekit_room)

    return Services(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        redis=redis,
        kv=kv,
        sessions=SessionService(kv, settings.session_ttl_s),
        tokens=TokenIssuer(settings),
        oidc=OIDCClient(settings.oidc, kv) if settings.oidc.enabled else None,
        livekit=build_livekit_gateway(settings),
        presence=presence,
        webhooks=WebhookService(
            WebhookVerifier(
                settings.livekit.api_key, settings.livekit.api_secret.get_secret_value()
            ),
            processed,
            WebhookHandlers(presence, listeners, is_registered),
        ),
        room_finished_listeners=listeners,
    )


def build_livekit_gateway(settings: Settings) -> LiveKitGateway:
    """Needs a running event loop (the SDK opens its HTTP session at once)."""
    return SdkLiveKitGateway(
        settings.livekit.http_url,
        settings.livekit.api_key,
        settings.livekit.api_secret.get_secret_value(),
        settings.livekit.timeout_s,
    )
