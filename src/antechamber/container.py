"""Everything a request may need, built once per process in the app's lifespan.

Each store is chosen here, once: Redis when `REDIS_URL` is set (shared by every process),
memory otherwise (one process only; settings refuse several workers without Redis).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from antechamber.admission.service import AdmissionService
from antechamber.auth.sessions import (
    KeyValueStore,
    MemoryKeyValueStore,
    RedisKeyValueStore,
    SessionService,
)
from antechamber.bans import BanStore, MemoryBanStore, RedisBanStore
from antechamber.db.session import create_engine, create_reader_sessionmaker, create_sessionmaker
from antechamber.diagnostics.service import DiagnosticsService
from antechamber.http.shutdown import Shutdown
from antechamber.invitations.service import InvitationService
from antechamber.livekit.gateway import LiveKitGateway
from antechamber.livekit.twirp import build_gateway
from antechamber.lobby.events import LobbyStreams
from antechamber.lobby.memory_store import MemoryLobbyStore
from antechamber.lobby.notify import WaitingNotifier
from antechamber.lobby.redis_store import RedisLobbyStore
from antechamber.lobby.service import LobbyService
from antechamber.lobby.store import LOBBY_EVENTS_PATTERN, LobbyStore, Timeouts
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
from antechamber.presence.turns import MemoryTurns, RedisTurns, Turns, lease_key
from antechamber.pubsub import Broker, MemoryBroker, RedisBroker
from antechamber.redis_client import (
    RedisClient,
    ScriptLane,
    build_redis,
    close_redis,
    script_lane,
)
from antechamber.rooms.cache import ROOMS_CHANNEL, RoomCache
from antechamber.rooms.schemas import RoomConfiguration
from antechamber.rooms.service import (
    is_registered_livekit_room,
    registered_livekit_rooms,
)
from antechamber.rooms.service import snapshot as room_snapshot
from antechamber.settings import Settings
from antechamber.tokens.issuer import TokenIssuer
from antechamber.webhooks.handlers import RoomFinishedListener, WebhookHandlers
from antechamber.webhooks.processed import (
    MemoryProcessedEvents,
    ProcessedEvents,
    RedisProcessedEvents,
)
from antechamber.webhooks.receiver import WebhookVerifier
from antechamber.webhooks.service import WebhookService

if TYPE_CHECKING:
    # Imported only when OIDC is on (`_oidc_client`): Authlib and httpx (with the rich
    # and pygments its command line pulls in) cost every worker ~9 MiB for nothing.
    from antechamber.auth.oidc import OIDCClient


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    # For requests that only read (see create_reader_sessionmaker).
    reader_sessionmaker: async_sessionmaker[AsyncSession]
    redis: RedisClient | None
    # The hottest script's own connections (one Redis server only).
    redis_lane: ScriptLane | None
    kv: KeyValueStore
    sessions: SessionService
    oidc: OIDCClient | None
    broker: Broker
    room_cache: RoomCache
    livekit: LiveKitGateway
    notifier: WaitingNotifier
    admission: AdmissionService
    lobby: LobbyService
    streams: LobbyStreams
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

    async def close(self) -> None:
        await self.diagnostics.close()
        await self.reconciler.stop()
        await self.notifier.drain()
        await self.lobby.close()
        await self.broker.close()
        await self.livekit.close()
        if self.oidc is not None:
            await self.oidc.close()
        if self.redis_lane is not None:
            await self.redis_lane.close()
        if self.redis is not None:
            await close_redis(self.redis)
        await self.engine.dispose()
        self.metrics.close()


def _oidc_client(settings: Settings, kv: KeyValueStore) -> OIDCClient | None:
    if not settings.oidc.enabled:
        return None
    from antechamber.auth.oidc import OIDCClient

    return OIDCClient(settings.oidc, kv)


@dataclass(frozen=True)
class Stores:
    """Every store and the broker: all in Redis, or all in this process' memory."""

    kv: KeyValueStore
    broker: Broker
    lobby: LobbyStore
    bans: BanStore
    presence: PresenceStore
    processed: ProcessedEvents
    turns: Turns
    microphones: MicrophoneLocks
    lane: ScriptLane | None = None


def build_stores(settings: Settings, redis: RedisClient | None) -> Stores:
    """The one place where Redis or memory is chosen."""
    lobby = settings.lobby
    timeouts = Timeouts(
        waiting_ms=lobby.waiting_timeout_s * 1000,
        accepted_ms=lobby.accepted_timeout_s * 1000,
        denied_ms=lobby.denied_timeout_s * 1000,
    )
    if redis is None:
        broker = MemoryBroker()
        bans = MemoryBanStore()
        return Stores(
            kv=MemoryKeyValueStore(),
            broker=broker,
            # Reads bans itself, in its atomic request-entry, as the Redis store's script
            # reads the ban keys (same layout as RedisBanStore's).
            lobby=MemoryLobbyStore(timeouts, broker.publish_now, banned=bans.banned_now),
            bans=bans,
            presence=MemoryPresenceStore(),
            processed=MemoryProcessedEvents(),
            turns=MemoryTurns(),
            microphones=MemoryMicrophoneLocks(),
        )
    lane = script_lane(redis, settings.redis)
    return Stores(
        kv=RedisKeyValueStore(redis),
        broker=RedisBroker(redis, (LOBBY_EVENTS_PATTERN, ROOMS_CHANNEL)),
        lobby=RedisLobbyStore(redis, timeouts, lane),
        bans=RedisBanStore(redis),
        presence=RedisPresenceStore(redis),
        processed=RedisProcessedEvents(redis),
        turns=RedisTurns(redis),
        microphones=RedisMicrophoneLocks(redis),
        lane=lane,
    )


def build_services(settings: Settings, metrics: Metrics | None = None) -> Services:
    """Needs a running event loop (the LiveKit SDK opens its HTTP session at once)."""
    metrics = metrics or Metrics(settings.metrics_dir)
    engine = create_engine(settings.database)
    count_database_errors(engine, metrics)
    sessionmaker = create_sessionmaker(engine)
    redis = build_redis(settings.redis)
    stores = build_stores(settings, redis)
    tokens = TokenIssuer(settings)
    livekit = build_gateway(settings.livekit, metrics)
    # Only live rooms are told that someone waits: presence (from webhooks) knows which.
    notifier = WaitingNotifier(livekit, stores.presence)
    admission = AdmissionService(settings, tokens, stores.bans, stores.presence)
    lobby = LobbyService(stores.lobby, settings, admission, notifier, metrics)
    listeners: list[RoomFinishedListener] = [stores.presence, lobby]
    room_cache = RoomCache()
    rooms = _RoomLookups(sessionmaker, room_cache)
    reconciler = Reconciler(
        settings.reconcile,
        settings.livekit.timeout_s,
        livekit,
        stores.presence,
        stores.bans,
        stores.turns,
        rooms.registered_among,
        lease=lease_key(settings.livekit.http_url, settings.livekit.api_key),
    )
    moderation = ModerationService(settings, livekit, lobby, stores.bans, stores.microphones)
    handlers = WebhookHandlers(
        stores.presence,
        listeners,
        rooms.is_registered,
        bans=stores.bans,
        livekit=livekit,
        reconciler=reconciler,
        configuration_of=rooms.configuration_of,
        on_joined=moderation.on_joined,
    )
    verifier = WebhookVerifier(
        settings.livekit.api_key, settings.livekit.api_secret.get_secret_value()
    )
    return Services(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        reader_sessionmaker=create_reader_sessionmaker(engine),
        redis=redis,
        redis_lane=stores.lane,
        kv=stores.kv,
        sessions=SessionService(stores.kv, settings.session_ttl_s),
        oidc=_oidc_client(settings, stores.kv),
        broker=stores.broker,
        room_cache=room_cache,
        livekit=livekit,
        notifier=notifier,
        admission=admission,
        lobby=lobby,
        streams=LobbyStreams(lobby, stores.broker, metrics, settings.lobby.waiting_timeout_s),
        presence=stores.presence,
        webhooks=WebhookService(verifier, stores.processed, handlers, metrics),
        bans=stores.bans,
        diagnostics=DiagnosticsService(settings, livekit),
        invitations=InvitationService(settings.email),
        moderation=moderation,
        reconciler=reconciler,
        metrics=metrics,
        room_finished_listeners=listeners,
    )


@dataclass(frozen=True)
class _RoomLookups:
    """What the webhooks and the reconciler ask about rooms, each in a short session."""

    sessionmaker: async_sessionmaker[AsyncSession]
    cache: RoomCache

    async def is_registered(self, livekit_room: str) -> bool:
        async with self.sessionmaker() as db:
            return await is_registered_livekit_room(db, livekit_room)

    async def configuration_of(self, livekit_room: str) -> RoomConfiguration | None:
        async with self.sessionmaker() as db:
            snapshot = await room_snapshot(db, self.cache, livekit_room)
        return snapshot.configuration if snapshot is not None else None

    async def registered_among(self, names: Sequence[str]) -> set[str]:
        async with self.sessionmaker() as db:
            return await registered_livekit_rooms(db, names)


def count_database_errors(engine: AsyncEngine, metrics: Metrics) -> None:
    """Every error the database driver raises, counted (whether or not a request fails)."""

    def on_error(_context: object) -> None:
        metrics.dependency_error("postgresql")

    event.listen(engine.sync_engine, "handle_error", on_error)
