"""Server-Sent Event streams of the lobby.

Both subscribe to the room's channel BEFORE reading the state they follow, so no change
falls in between; a periodic tick re-reads the state anyway (and, for a waiting
participant, keeps its place alive), so a message lost during a Redis reconnect only
delays an update by one tick.

Events reach the streams through one broker topic per process (`Topic`): each event is
decoded once in the process, and wakes only the participant streams following its place
(two tabs of one participant both) and the room's admin streams, never the other
participants of the room: an admission costs the same in a room of 10 or of 5,000.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from antechamber.auth.caller import Caller
from antechamber.lobby.service import Entry, LobbyService, participant_json, place_json
from antechamber.lobby.store import PlaceEvent, Status, events_channel
from antechamber.observability.metrics import Metrics
from antechamber.pubsub import Broker, SubscriptionEnded, Topic
from antechamber.rooms.cache import RoomSnapshot

logger = logging.getLogger(__name__)
MAX_TICK_S = 15.0


# A stream that has started can't answer 503 any more: it ends, and the client reconnects.
STORE_OUTAGES = (RedisConnectionError, RedisTimeoutError, OSError)


def sse(data: Mapping[str, object], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


KEEPALIVE = b": keepalive\n\n"
# The last event of a stream that the server ends (the process is stopping, or lost Redis):
# reconnect in a second, through the balancer, to a process that can go on. An
# EventSource does so by itself when the stream closes; `retry` sets its delay.
RECONNECT = b'retry: 1000\nevent: reconnect\ndata: {"reason":"server stopping"}\n\n'


def _place_of(event: PlaceEvent) -> str:
    return event.id


def place_events(broker: Broker) -> Topic[PlaceEvent]:
    """The lobby's events as the streams follow them: decoded once per process, keyed by
    the place they concern (subscribe with the participant id, or None for the room's
    every event). One per process: `LobbyStreams` makes it."""
    return broker.topic(PlaceEvent.parse, _place_of)


class LobbyStreams:
    """The lobby's two event streams, relayed from the room's channel."""

    def __init__(
        self, lobby: LobbyService, broker: Broker, metrics: Metrics, waiting_timeout_s: float
    ) -> None:
        self._lobby = lobby
        # Decoded once per process, dispatched by the place it concerns.
        self._events = place_events(broker)
        self._metrics = metrics
        self._tick_s = min(MAX_TICK_S, waiting_timeout_s / 3)

    # One async generator per stream, no wrapper around it: thousands stay open at once.
    async def participant(
        self, room: RoomSnapshot, caller: Caller, opening: Entry
    ) -> AsyncIterator[bytes]:
        """`opening` is the lobby's `follow` answer, read before the response starts."""
        gauge = self._metrics.streams.labels("participant")
        gauge.inc()
        lobby, room_id, pid = self._lobby, str(room.id), caller.participant_id
        try:
            yield sse(opening.as_json())
            if opening.status is not Status.WAITING:
                return
            async with self._events.subscribe(events_channel(room_id), pid) as subscription:
                place = await lobby.place(room_id, pid, refresh=True)
                while place is not None and place.status is Status.WAITING:
                    event = await subscription.next(self._tick_s)
                    if event is None:
                        place = await lobby.place(room_id, pid, refresh=True)
                        if place is not None and place.status is Status.WAITING:
                            yield KEEPALIVE
                        continue
                    if event.status == Status.WAITING.value:  # only this place's events
                        continue
                    place = await lobby.place(room_id, pid, refresh=False)
                if place is not None:
                    yield sse((await lobby.entry_for(room, place, caller)).as_json())
        except SubscriptionEnded:
            yield RECONNECT
        except STORE_OUTAGES as exc:
            logger.warning("lobby stream ended: the store failed: %s", type(exc).__name__)
            yield RECONNECT
        finally:
            gauge.dec()

    async def admin(self, room: RoomSnapshot) -> AsyncIterator[bytes]:
        gauge = self._metrics.streams.labels("admin")
        gauge.inc()
        room_id = str(room.id)
        try:
            async with self._events.subscribe(events_channel(room_id)) as subscription:
                waiting = await self._lobby.waiting(room)
                yield sse({"participants": [place_json(p) for p in waiting]}, event="participants")
                while True:
                    event = await subscription.next(self._tick_s)
                    if event is None:
                        yield KEEPALIVE
                        continue
                    yield sse(participant_json(event), event="participant")
        except SubscriptionEnded:
            yield RECONNECT
        except STORE_OUTAGES as exc:
            logger.warning("admin lobby stream ended: the store failed: %s", type(exc).__name__)
            yield RECONNECT
        finally:
            gauge.dec()
