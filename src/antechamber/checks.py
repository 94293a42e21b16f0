"""`antechamber check`: validates the configuration and reaches every dependency."""

from __future__ import annotations

import asyncio
import sys

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from redis.asyncio.cluster import RedisCluster
from sqlalchemy.engine import Connection

from antechamber.db.migrate import alembic_config
from antechamber.db.session import create_engine
from antechamber.livekit.twirp import build_gateway
from antechamber.redis_client import build_redis, close_redis
from antechamber.settings import Settings

TIMEOUT_S = 5.0


async def run_checks(settings: Settings) -> int:
    results = [
        ("database", await _guard(_database(settings))),
        ("redis", await _guard(_redis(settings))),
        ("livekit", await _guard(_livekit(settings))),
        ("front end", _frontend(settings)),
    ]
    failed = False
    for name, problem in results:
        if problem and not problem.startswith(("skipped", "warning")):
            failed = True
            print(f"FAIL {name}: {problem}", file=sys.stderr)
        else:
            print(f"ok   {name}{': ' + problem if problem else ''}")
    return 1 if failed else 0


async def _guard(check: asyncio.Future[str | None] | object) -> str | None:
    try:
        return await asyncio.wait_for(check, TIMEOUT_S)  # type: ignore[arg-type]
    except TimeoutError:
        return f"no answer within {TIMEOUT_S:.0f} s"
    except Exception as exc:  # noqa: BLE001 - the point is to report any failure
        return f"{type(exc).__name__}: {exc}"


async def _database(settings: Settings) -> str | None:
    engine = create_engine(settings.database)
    head = ScriptDirectory.from_config(alembic_config(settings.database.url)).get_current_head()

    def current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    try:
        async with engine.connect() as connection:
            revision = await connection.run_sync(current)
    finally:
        await engine.dispose()
    if revision != head:
        return f"schema at {revision}, code expects {head}: run `antechamber migrate`"
    return None


async def _redis(settings: Settings) -> str | None:
    if not settings.redis.url:
        return "skipped (REDIS_URL unset: in-memory sessions and lobby, one process only)"
    client = build_redis(settings.redis)
    assert client is not None
    try:
        await client.ping()
        persistence = await client.info("persistence")
        if isinstance(client, RedisCluster):
            info = await client.cluster_info()
            if info.get("cluster_state") != "ok":
                return f"the Redis Cluster says cluster_state={info.get('cluster_state')}"
    finally:
        await close_redis(client)
    # A cluster answers per node ({node: info}); one server answers its own info.
    nodes = list(persistence.values())
    answers = nodes if nodes and all(isinstance(n, dict) for n in nodes) else [persistence]
    for answer in answers:
        warning = persistence_warning(answer)
        if warning is not None:
            return warning
    return None


def persistence_warning(info: dict[str, object]) -> str | None:
    """Without persistence a Redis restart logs everyone out and empties every lobby."""
    if str(info.get("aof_enabled", "0")) == "1":
        return None
    return (
        "warning: this Redis does not persist (appendonly is off): a restart loses every "
        "login session, waiting place and admission; run it with --appendonly yes"
    )


def _frontend(settings: Settings) -> str | None:
    folder = settings.frontend_dir
    if folder is None:
        return "skipped (ANTECHAMBER_FRONTEND_DIR unset: the API only)"
    if not (folder / "index.html").is_file():
        return f"{folder} has no index.html: every page would answer 404"
    return None


async def _livekit(settings: Settings) -> str | None:
    gateway = build_gateway(settings.livekit)
    try:
        await gateway.list_rooms()
    finally:
        await gateway.close()
    return None
