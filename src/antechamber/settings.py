"""Configuration. The ONLY module that reads the environment.

Operators set `DATABASE_URL`, `REDIS_URL`, `LIVEKIT_URL`, `LIVEKIT_API_KEY`,
`LIVEKIT_API_SECRET`, and `ANTECHAMBER_*` for everything else. Each section is its own
settings class so tests can build exactly the configuration they need.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

AccessLevel = Literal["public", "trusted", "restricted"]
Environment = Literal["development", "production"]

# Anything shorter is refused in production (and so is this default).
DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production"  # noqa: S105
MIN_SECRET_LENGTH = 32
DEVELOPMENT_LIVEKIT_SECRET = "secret-development-only-livekit-key-0123"  # noqa: S105
DEFAULT_DATA_DIR = Path("data")
CLUSTER_SCHEME = "redis+cluster://"


class ConfigurationError(Exception):
    """The settings can't run the service; the message says what to change."""


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CommaList = Annotated[list[str], NoDecode]


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DATABASE_", extra="ignore")

    url: str = f"sqlite+aiosqlite:///{DEFAULT_DATA_DIR / 'antechamber.sqlite3'}"
    pool_size: int = Field(default=10, ge=1, le=200)

    @field_validator("url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        # Operators write the usual URLs; the service needs the async drivers.
        for plain, driver in (
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("sqlite:///", "sqlite+aiosqlite:///"),
        ):
            if url.startswith(plain):
                return driver + url[len(plain) :]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


class RedisSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REDIS_", extra="ignore")

    url: str | None = None
    # `redis://` or `rediss://` (one server) or `redis+cluster://host:port[,host:port...]`
    # (a Redis Cluster: any of its nodes, the client discovers the others).
    # Per process. Past it, a request waits for a connection (up to the socket time-out)
    # instead of failing.
    max_connections: int = Field(default=200, ge=4, le=10_000)
    # Cluster only: how long calls are retried across a failover before they fail. Keep
    # it above the cluster's `cluster-node-timeout` plus a few seconds.
    cluster_retry_s: float = Field(default=20.0, ge=0, le=300)


class LiveKitSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIVEKIT_", extra="ignore")

    url: str = "ws://127.0.0.1:7880"
    api_key: str = "devkey"
    api_secret: SecretStr = SecretStr(DEVELOPMENT_LIVEKIT_SECRET)
    # Timeout for RoomService calls, so a dead server never hangs a request.
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    force_wss_protocol: bool = False
    enable_firefox_proxy_workaround: bool = False
    default_sources: CommaList = Field(
        default_factory=lambda: ["camera", "microphone", "screen_share", "screen_share_audio"]
    )

    _split = field_validator("default_sources", mode="before")(_split_commas)

    @property
    def http_url(self) -> str:
        """The RoomService (Twirp) base URL derived from the signalling URL."""
        if self.url.startswith("ws://"):
            return "http://" + self.url[len("ws://") :]
        if self.url.startswith("wss://"):
            return "https://" + self.url[len("wss://") :]
        return self.url


class LobbySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANTECHAMBER_LOBBY_", extra="ignore")

    poll_interval_s: int = Field(default=5, ge=1, le=300)
    # A place lives this long without a poll or an open stream: several poll intervals,
    # so a throttled background tab (one timer a minute) keeps its place.
    waiting_timeout_s: int = Field(default=90, ge=5, le=3600)
    accepted_timeout_s: int = Field(default=600, ge=10, le=86400)
    denied_timeout_s: int = Field(default=60, ge=0, le=86400)
    max_waiting_per_room: int = Field(default=1000, ge=1, le=100_000)
    # request-entry calls per client address per minute; 0 disables the limit.
    rate_limit_per_minute: int = Field(default=120, ge=0, le=100_000)


class FrontendSettings(BaseSettings):
    """What `config/` tells La Suite Meet's front end; defaults are its own backend's."""

    model_config = SettingsConfigDict(env_prefix="ANTECHAMBER_FRONTEND_", extra="ignore")

    # Past this many participants, join and leave sounds stop.
    max_participants_for_sound: int = Field(default=5, ge=0, le=100_000)
    # Past this many participants, a joiner's microphone starts muted.
    auto_mute_on_join_threshold: int = Field(default=50, ge=0, le=100_000)
    # Silent login (prompt=none) is only offered when an OpenID provider is configured.
    is_silent_login_enabled: bool = True
    silence_livekit_debug_logs: bool = False
    custom_css_url: str | None = None
    external_home_url: str | None = None
    manifest_link: str | None = None
    idle_disconnect_warning_delay: int | None = Field(default=None, ge=1)
    use_french_gov_footer: bool = False
    use_proconnect_button: bool = False
    language_code: str = "en-us"


class ConnectionTestSettings(BaseSettings):
    """The front end's connection test (`POST diagnostics/connection/`)."""

    model_config = SettingsConfigDict(env_prefix="ANTECHAMBER_CONNECTION_TEST_", extra="ignore")

    enabled: bool = False
    # Lifetime of the test token and of its room (deleted from LiveKit after it).
    ttl_s: int = Field(default=300, ge=5, le=3600)
    # Tests started per client address per minute (0: no limit).
    rate_limit_per_minute: int = Field(default=10, ge=0, le=10_000)


class EmailSettings(BaseSettings):
    """SMTP, for room invitations. Without a host, invitations answer 501."""

    model_config = SettingsConfigDict(env_prefix="ANTECHAMBER_EMAIL_", extra="ignore")

    host: str | None = None
    port: int = Field(default=25, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    use_tls: bool = False  # STARTTLS
    use_ssl: bool = False  # TLS from the first byte
    from_address: str = "meet@localhost"
    # Where invitation links point (the front end's address); default: this service's.
    app_base_url: str | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    # Invitation requests per sender per hour, and recipients per request.
    invite_rate_limit_per_hour: int = Field(default=20, ge=0, le=100_000)
    max_recipients: int = Field(default=20, ge=1, le=500)

    @property
    def enabled(self) -> bool:
        return bool(self.host)


class ReconcileSettings(BaseSettings):
    """The reconciler: compares each live room with LiveKit's `ListParticipants`, removes
    banned identities and fixes the participant list, whatever the webhooks did."""

    model_config = SettingsConfigDict(env_prefix="ANTECHAMBER_RECONCILE_", extra="ignore")

    enabled: bool = True
    # Every live room is compared with LiveKit at least this often (one ListRooms per
    # process, one ListParticipants per room, whichever process takes the room's turn).
    interval_s: float = Field(default=30.0, ge=1, le=3600)
    # Rooms with a ban in force are checked this often: how long a banned participant
    # can stay when LiveKit's participant_joined webhook doesn't reach us.
    banned_interval_s: float = Field(default=1.0, ge=0.2, le=300)
    # Rooms reconciled per pass and process, and LiveKit calls in flight at once.
    max_rooms: int = Field(default=200, ge=1, le=100_000)
    concurrency: int = Field(default=8, ge=1, le=100)


class OIDCSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANTECHAMBER_OIDC_", extra="ignore")

    # The issuer; its `/.well-known/openid-configuration` is fetched at first login.
    issuer: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    scopes: str = "openid email profile"
    # Where the provider sends the browser back; default: this service's callback URL.
    redirect_uri: str | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=60)

    @property
    def enabled(self) -> bool:
        return bool(self.issuer and self.client_id)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANTECHAMBER_", extra="ignore")

    environment: Environment = "development"
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET)
    # Exact origins (scheme://host[:port]) allowed for CORS, CSRF and login redirects.
    allowed_origins: CommaList = Field(default_factory=list)
    dev_login_enabled: bool = False
    # A token only has to be valid when the client connects: LiveKit sends connected
    # participants fresh tokens itself. Two minutes cover a slow connection (ICE, TURN
    # fall-back, the client's retries) and clock skew, and bound how long a token that
    # leaked or was obtained before a ban is worth anything.
    token_ttl_s: int = Field(default=120, ge=30, le=86400)
    session_ttl_s: int = Field(default=14 * 86400, ge=60)
    # Operator policy: the access levels rooms may have on this deployment, the one new
    # rooms get, whether anonymous people may ever join, whether unknown slugs are rooms.
    access_levels: CommaList = Field(default_factory=lambda: ["public", "trusted", "restricted"])
    default_access_level: AccessLevel = "public"
    allow_anonymous: bool = True
    allow_unregistered_rooms: bool = False
    default_display_name: str = Field(default="Anonymous", min_length=1, max_length=100)
    authenticated_users_can_edit_display_name: bool = True
    frontend_dir: Path | None = None
    workers: int = Field(default=1, ge=1, le=64)
    # The embedded SQLite default migrates itself at start-up; PostgreSQL never does.
    migrate_on_start: bool = True
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # `text` (human) or `json` (one object per line, with the request id).
    log_format: Literal["text", "json"] = "text"
    access_log: bool = True
    # `/metrics` answers only a request carrying `Authorization: Bearer <this>`;
    # unset, it answers 404 (metrics are never public by default).
    metrics_token: SecretStr | None = None
    # Several workers share their metrics through files here (`serve` makes one).
    metrics_dir: Path | None = None
    # Addresses whose X-Forwarded-For/-Proto uvicorn trusts (comma list, `*` for any).
    forwarded_allow_ips: str = "127.0.0.1"
    # The SDK's popup flow: how long a created room waits to be fetched by its
    # callback id, and how many fetches a client address may make per minute (it polls).
    creation_callback_ttl_s: int = Field(default=600, ge=10, le=86400)
    creation_callback_rate_limit_per_minute: int = Field(default=600, ge=0, le=100_000)
    # Bodies over this are refused with 413 before they are read (the webhook has its own).
    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=64 << 20)
    # On SIGTERM: streams end at once, in-flight requests get the rest of this bound, and
    # the process exits within it (after the delay below).
    shutdown_timeout_s: float = Field(default=10.0, ge=1, le=600)
    # Time between SIGTERM and closing the listening socket, answering /readyz with 503,
    # for balancers that only learn from health checks. 0: close at once.
    shutdown_delay_s: float = Field(default=0.0, ge=0, le=120)

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    livekit: LiveKitSettings = Field(default_factory=LiveKitSettings)
    lobby: LobbySettings = Field(default_factory=LobbySettings)
    oidc: OIDCSettings = Field(default_factory=OIDCSettings)
    frontend: FrontendSettings = Field(default_factory=FrontendSettings)
    connection_test: ConnectionTestSettings = Field(default_factory=ConnectionTestSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    reconcile: ReconcileSettings = Field(default_factory=ReconcileSettings)

    _split = field_validator("allowed_origins", "access_levels", mode="before")(_split_commas)

    @field_validator("access_levels")
    @classmethod
    def _levels(cls, levels: list[str]) -> list[str]:
        known = ("public", "trusted", "restricted")
        unknown = [level for level in levels if level not in known]
        if unknown or not levels:
            raise ValueError(f"access levels are a non-empty list of {', '.join(known)}")
        return [level for level in known if level in levels]

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        return [origin.rstrip("/") for origin in origins]

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        problems = []
        if self.workers > 1 and not self.redis.url:
            # In-memory sessions and lobby can't be shared between processes.
            problems.append("REDIS_URL is required with more than one worker")
        if self.metrics_token is not None and len(self.metrics_token.get_secret_value()) < 16:
            problems.append("ANTECHAMBER_METRICS_TOKEN must be at least 16 characters")
        if self.default_access_level not in self.access_levels:
            problems.append(
                "ANTECHAMBER_DEFAULT_ACCESS_LEVEL must be one of ANTECHAMBER_ACCESS_LEVELS"
            )
        if self.allow_unregistered_rooms and "public" not in self.access_levels:
            problems.append(
                "ANTECHAMBER_ALLOW_UNREGISTERED_ROOMS needs public rooms "
                "(unregistered rooms are public) in ANTECHAMBER_ACCESS_LEVELS"
            )
        if self.environment == "production":
            problems.extend(self._production_problems())
        if problems:
            raise ConfigurationError("; ".join(problems))
        return self

    def _production_problems(self) -> list[str]:
        problems = []
        secret = self.secret_key.get_secret_value()
        if secret == DEVELOPMENT_SECRET or len(secret) < MIN_SECRET_LENGTH:
            problems.append(
                f"ANTECHAMBER_SECRET_KEY must be set to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters"
            )
        if self.dev_login_enabled:
            problems.append("ANTECHAMBER_DEV_LOGIN_ENABLED must be off in production")
        if self.livekit.api_secret.get_secret_value() == DEVELOPMENT_LIVEKIT_SECRET:
            problems.append("LIVEKIT_API_SECRET must be set in production")
        return problems

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def uses_redis(self) -> bool:
        return self.redis.url is not None

    @property
    def uses_redis_cluster(self) -> bool:
        return self.redis.url is not None and self.redis.url.startswith(CLUSTER_SCHEME)


def load_settings() -> Settings:
    """Settings from the environment; raises ConfigurationError with every problem."""
    return Settings()
