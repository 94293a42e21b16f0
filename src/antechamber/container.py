"""Everything a request may need, built once per process in the app's lifespan.

Each store is chosen here, once: Redis when `REDIS_URL` is set (shared by every process),
memory otherwise (one process only; settings refuse several workers without Redis).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from antechamber.auth.oidc import OIDCClient
from antechamber.auth.sessions import (
    KeyValueStore,
    MemoryKeyValueStore,
    RedisKeyValueStore,
    SessionService,
)
from antechamber.db.session import create_engine, create_sessionmaker
from antechamber.diagnostics.service import DiagnosticsService
from antechamber.http.shutdown import Shutdown
from antechamber.invitations.service import InvitationService
from antechamber.livekit.gateway import LiveKitGateway
from antechamber.livekit.sdk_gateway import SdkLiveKitGateway
from antechamber.lobby.memory_store import MemoryLobbyStore
from antechamber.lobby.notify import WaitingNotifier
from antechamber.lobby.redis_store import RedisLobbyStore
from antechamber.lobby.service import LobbyService
from antechamber.lobby.store import LOBBY_EVENTS_PATTERN, Timeouts
from antechamber.moderation.bans import BanStore, MemoryBanStore, RedisBanStore
from antechamber.moderation.microphones import (
    MemoryMicrophoneLocks,
    MicrophoneLocks,
    RedisMicrophoneLocks,
)
from antechamber.moderation.service import ModerationService
from antechamber.observability.metrics import Metrics
from antechamber.presence.reconciler import Reconciler
from antechamber.presence.redis_store import RedisPresenceStore
from antechamber.presence.store import MemoryPresenceStore, PresenceStore
from antechamber.presence.turns import MemoryTurns, RedisTurns, Turns
from antechamber.pubsub import Broker, MemoryBroker, RedisBroker
from antechamber.redis_client import RedisClient, build_redis, close_redis
from antechamber.rooms.cache import ROOMS_CHANNEL, RoomCache
from antechamber.rooms.schemas import RoomConfiguration
from antechamber.rooms.service import (
    is_registered_livekit_room,
    registered_livekit_rooms,
)
from antechamber.rooms.service import snapshot as room_snapshot
from antechamber.settings import LobbySettings, Settings
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
    redis: RedisClient | None
    kv: KeyValueStore
    sessions: SessionService
    tokens: TokenIssuer
    oidc: OIDCClient | None
    broker: Broker
    room_cache: RoomCache
    livekit: LiveKitGateway
    notifier: WaitingNotifier
    lobby: LobbyService
    presence: PresenceStore
    webhooks: WebhookService
    bans: BanStore
    moderation: ModerationService
    metrics: Metrics
    diagnostics: DiagnosticsService
    invitations: InvitationService
    reconciler: Reconciler
    # Told when a LiveKit room ends; the webhook handlers read this very list.
    room_finished_listeners: list[RoomFinishedListener] = field(default_factory=list)
    shutdown: Shutdown = field(default_factory=Shutdown)

    @property
    def secret_key(self) -> bytes:
        return self.settings.secret_key.get_secret_value().encode()

    async def close(self) -> None:
        await self.diagnostics.close()
        await self.reconciler.stop()
        await self.notifier.drain()
        await self.lobby.store.close()
        await self.broker.close()
        await self.livekit.close()
        if self.oidc is not None:
            await self.oidc.close()
        if self.redis is not None:
            await close_redis(self.redis)
        await self.engine.dispose()
        self.metrics.close()


def build_services(settings: Settings, metrics: Metrics | None = None) -> Services:
    """Needs a running event loop (the LiveKit SDK opens its HTTP session at once)."""
    metrics = metrics or Metrics(settings.metrics_dir)
    engine = create_engine(settings.database)
    count_database_errors(engine, metrics)
    sessionmaker = create_sessionmaker(engine)
    redis = build_redis(settings.redis)
    kv: KeyValueStore = RedisKeyValueStore(redis) if redis is not None else MemoryKeyValueStore()
    broker: Broker = (
        RedisBroker(redis, (LOBBY_EVENTS_PATTERN, ROOMS_CHANNEL))
        if redis is not None
        else MemoryBroker()
    )
    tokens = TokenIssuer(settings)
    livekit = build_livekit_gateway(settings, metrics)
    bans: BanStore = RedisBanStore(redis) if redis is not None else MemoryBanStore()
    presence: PresenceStore
    processed: ProcessedEvents
    turns: Turns
    if redis is not None:
        presence, processed = RedisPresenceStore(redis), RedisProcessedEvents(redis)
        turns = RedisTurns(redis)
    else:
        presence, processed = MemoryPresenceStore(), MemoryProcessedEvents()
        turns = MemoryTurns()
    # Only live rooms are told that someone waits: presence (from webhooks) knows which.
    notifier = WaitingNotifier(livekit, presence)
    lobby = LobbyService(
        build_lobby_store(settings.lobby, redis, broker, bans),
        settings,
        tokens,
        notifier,
        bans,
        presence,
        metrics,
    )
    listeners: list[RoomFinishedListener] = [presence, lobby]

    async def is_registered(livekit_room: str) -> bool:
        async with sessionmaker() as db:
            return await is_registered_livekit_room(db, livekit_room)

    room_cache = RoomCache()

    async def configuration_of(livekit_room: str) -> RoomConfiguration | None:
        async with sessionmaker() as db:
            snapshot = await room_snapshot(db, room_cache, livekit_room)
        return snapshot.configuration if snapshot is not None else None

    async def registered_among(names: Sequence[str]) -> set[str]:
        async with sessionmaker() as db:
            return await registered_livekit_rooms(db, names)

    reconciler = Reconciler(
        settings.reconcile,
        settings.livekit.timeout_s,
        livekit,
        presence,
        bans,
        turns,
        registered_among,
    )
    microphones: MicrophoneLocks = (
        RedisMicrophoneLocks(redis) if redis is not None else MemoryMicrophoneLocks()
    )
    moderation = ModerationService(settings, livekit, lobby, bans, microphones)
    handlers = WebhookHandlers(
        presence,
        listeners,
        is_registered,
        bans=bans,
        livekit=livekit,
        reconciler=reconciler,
        configuration_of=configuration_of,
        on_joined=moderation.on_joined,
    )

    verifier = WebhookVerifier(
        settings.livekit.api_key, settings.livekit.api_secret.get_secret_value()
    )
    return Services(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        redis=redis,
        kv=kv,
        sessions=SessionService(kv, settings.session_ttl_s),
        tokens=tokens,
        oidc=OIDCClient(settings.oidc, kv) if settings.oidc.enabled else None,
        broker=broker,
        room_cache=room_cache,
        livekit=livekit,
        notifier=notifier,
        lobby=lobby,
        presence=presence,
        webhooks=WebhookService(verifier, processed, handlers, metrics),
        bans=bans,
        diagnostics=DiagnosticsService(settings, livekit),
        invitations=InvitationService(settings.email),
        moderation=moderation,
        reconciler=reconciler,
        metrics=metrics,
        room_finished_listeners=listeners,
    )


def build_lobby_store(
    settings: LobbySettings, redis: RedisClient | None, broker: Broker, bans: BanStore
) -> RedisLobbyStore | MemoryLobbyStore:
    """The Redis store reads the ban keys itself (same layout as `RedisBanStore`); the
    memory one asks the memory ban store."""
    timeouts = Timeouts(
        waiting_ms=settings.waiting_timeout_s * 1000,
        accepted_ms=settings.accepted_timeout_s * 1000,
        denied_ms=settings.denied_timeout_s * 1000,
    )
    if redis is not None:
        return RedisLobbyStore(redis, timeouts)
    assert isinstance(broker, MemoryBroker)
    assert isinstance(bans, MemoryBanStore)
    return MemoryLobbyStore(timeouts, broker.publish_now, banned=bans.banned_now)


def build_livekit_gateway(settings: Settings, metrics: Metrics | None = None) -> LiveKitGateway:
    return SdkLiveKitGateway(
        settings.livekit.http_url,
        settings.livekit.api_key,
        settings.livekit.api_secret.get_secret_value(),
        settings.livekit.timeout_s,
        metrics,
    )


def count_database_errors(engine: AsyncEngine, metrics: Metrics) -> None:
    """Every error the database driver raises, counted (whether or not a request fails)."""

    def on_error(_context: object) -> None:
        metrics.dependency_error("postgresql")

    event.listen(engine.sync_engine, "handle_error", on_error)
