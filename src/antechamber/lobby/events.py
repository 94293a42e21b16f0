"""Server-Sent Event streams of the lobby.

Both subscribe to the room's channel BEFORE reading the state they follow, so no change
falls in between; a periodic tick re-reads the state anyway (and, for a waiting
participant, keeps its place alive), so a message lost during a Redis reconnect only
delays an update by one tick.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession

from antechamber.auth.caller import Caller
from antechamber.container import Services
from antechamber.errors import NotFound
from antechamber.lobby.service import Entry, iso, place_json
from antechamber.lobby.store import Status, events_channel
from antechamber.pubsub import SubscriptionEnded
from antechamber.rooms import policy
from antechamber.rooms import service as rooms
from antechamber.rooms.cache import RoomSnapshot
from antechamber.tokens.colour import colour_for

logger = logging.getLogger(__name__)
MAX_TICK_S = 15.0


# A stream that has started can't answer 503 any more: it ends, and the client reconnects.
STORE_OUTAGES = (RedisConnectionError, RedisTimeoutError, OSError)


def sse(data: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


KEEPALIVE = b": keepalive\n\n"
# The last event of a stream that the server ends (the process is stopping, or lost Redis):
# reconnect in a second, through the balancer, to a process that can go on. An
# EventSource does so by itself when the stream closes; `retry` sets its delay.
RECONNECT = b'retry: 1000\nevent: reconnect\ndata: {"reason":"server stopping"}\n\n'


def _tick(services: Services) -> float:
    return min(MAX_TICK_S, services.settings.lobby.waiting_timeout_s / 3)


async def open_participant_stream(
    services: Services, db: AsyncSession, room: RoomSnapshot, caller: Caller
) -> Entry:
    """The first event of a participant's stream, or NotFound when it has no place."""
    role = await rooms.role_of(db, room.id, caller.user)
    if policy.may_join(services.settings, room.access_level, caller, role):
        return await services.lobby.request_entry(db, room, caller, None, "")
    place = None
    if caller.participant_id:
        place = await services.lobby.store.get(str(room.id), caller.participant_id, refresh=True)
    if place is None:
        raise NotFound("You have no place in this room's lobby; request entry first.")
    return services.lobby.entry_for(room, place, caller)


@contextmanager
def _open_stream(services: Services, kind: str) -> Iterator[None]:
    gauge = services.metrics.streams.labels(kind)
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()


async def participant_stream(
    services: Services, room: RoomSnapshot, caller: Caller, opening: Entry
) -> AsyncIterator[bytes]:
    with _open_stream(services, "participant"):
        async for chunk in _participant_stream(services, room, caller, opening):
            yield chunk


async def _participant_stream(
    services: Services, room: RoomSnapshot, caller: Caller, opening: Entry
) -> AsyncIterator[bytes]:
    yield sse(opening.as_json())
    if opening.status is not Status.WAITING:
        return
    store, room_id, pid = services.lobby.store, str(room.id), caller.participant_id
    try:
        async with services.broker.subscribe(events_channel(room_id)) as subscription:
            place = await store.get(room_id, pid, refresh=True)
            while place is not None and place.status is Status.WAITING:
                message = await subscription.next(_tick(services))
                if message is None:
                    place = await store.get(room_id, pid, refresh=True)
                    if place is not None and place.status is Status.WAITING:
                        yield KEEPALIVE
                    continue
                event = json.loads(message)
                if event.get("id") != pid or event.get("status") == Status.WAITING.value:
                    continue
                place = await store.get(room_id, pid, refresh=False)
            if place is not None:
                yield sse(services.lobby.entry_for(room, place, caller).as_json())
    except SubscriptionEnded:
        yield RECONNECT
    except STORE_OUTAGES as exc:
        logger.warning("lobby stream ended: the store failed: %s", type(exc).__name__)
        yield RECONNECT


async def admin_stream(services: Services, room: RoomSnapshot) -> AsyncIterator[bytes]:
    with _open_stream(services, "admin"):
        async for chunk in _admin_stream(services, room):
            yield chunk


async def _admin_stream(services: Services, room: RoomSnapshot) -> AsyncIterator[bytes]:
    room_id = str(room.id)
    try:
        async with services.broker.subscribe(events_channel(room_id)) as subscription:
            waiting = await services.lobby.waiting(room)
            yield sse({"participants": [place_json(p) for p in waiting]}, event="participants")
            while True:
                message = await subscription.next(_tick(services))
                if message is None:
                    yield KEEPALIVE
                    continue
                yield sse(_change(json.loads(message)), event="participant")
    except SubscriptionEnded:
        yield RECONNECT
    except STORE_OUTAGES as exc:
        logger.warning("admin lobby stream ended: the store failed: %s", type(exc).__name__)
        yield RECONNECT


def _change(event: dict[str, Any]) -> dict[str, Any]:
    pid = str(event.get("id", ""))
    return {
        "id": pid,
        "username": str(event.get("username", "")),
        "color": colour_for(pid),
        "status": str(event.get("status", "")),
        "requested_at": iso(int(event.get("requested_at", 0))),
    }
