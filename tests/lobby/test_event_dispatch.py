"""The lobby's events reach a process's streams by place: an event wakes the streams
following its place and the room's admin streams, and no other participant's stream.

On the in-memory broker, one Redis server and a Redis Cluster (the `make_store` fixture),
with the real lobby store publishing the events and the topic the streams use."""

from __future__ import annotations

import json

import pytest

from antechamber.lobby.events import place_events
from antechamber.lobby.store import Status, events_channel
from antechamber.pubsub import SubscriptionEnded
from tests.lobby.conftest import DEFAULT_TIMEOUTS, StoreFactory, StoreUnderTest
from tests.lobby.test_store_contract import OTHER_ROOM, ROOM, ask, new_id

WAIT_S = 5.0


async def _settled_waiting(under_test: StoreUnderTest, room: str, *people: str) -> None:
    """Puts `people` in the lobby and waits until their `waiting` events have reached this
    process, so that subscriptions opened afterwards only see what follows."""
    async with under_test.broker.subscribe(events_channel(room)) as everything:
        for who in people:
            await ask(under_test.store, who, room=room)
        seen: set[str] = set()
        while seen != set(people):
            message = await everything.next(WAIT_S)
            assert message is not None, f"waiting events missing: {set(people) - seen}"
            seen.add(json.loads(message)["id"])


async def test_an_event_wakes_only_the_streams_of_its_place(make_store: StoreFactory) -> None:
    under_test = make_store(DEFAULT_TIMEOUTS)
    topic = place_events(under_test.broker)
    ann, bob, cat = new_id(), new_id(), new_id()
    await _settled_waiting(under_test, ROOM, ann, bob, cat)
    channel = events_channel(ROOM)
    async with (
        topic.subscribe(channel, ann) as ann_stream,
        topic.subscribe(channel, bob) as bob_stream,
        topic.subscribe(channel, cat) as cat_stream,
    ):
        await under_test.store.decide(ROOM, ann, Status.ACCEPTED)
        event = await ann_stream.next(WAIT_S)
        assert event is not None
        assert (event.id, event.status) == (ann, "accepted")
        # Dispatch is synchronous: once Ann has it, every follower that would get it has.
        assert (bob_stream.delivered, bob_stream.pending) == (0, 0)
        assert (cat_stream.delivered, cat_stream.pending) == (0, 0)

        await under_test.store.decide(ROOM, bob, Status.DENIED)
        event = await bob_stream.next(WAIT_S)
        assert event is not None
        assert (event.id, event.status) == (bob, "denied")
        assert (ann_stream.delivered, ann_stream.pending) == (1, 0)
        assert (cat_stream.delivered, cat_stream.pending) == (0, 0)
        assert await cat_stream.next(0.2) is None


async def test_two_streams_of_one_place_both_get_its_event_decoded_once(
    make_store: StoreFactory,
) -> None:
    under_test = make_store(DEFAULT_TIMEOUTS)
    topic = place_events(under_test.broker)
    ann = new_id()
    await _settled_waiting(under_test, ROOM, ann)
    channel = events_channel(ROOM)
    decoded_before = topic.decoded
    async with (
        topic.subscribe(channel, ann) as first_tab,
        topic.subscribe(channel, ann) as second_tab,
        topic.subscribe(channel) as admin,
    ):
        await under_test.store.decide(ROOM, ann, Status.ACCEPTED)
        first = await first_tab.next(WAIT_S)
        second = await second_tab.next(WAIT_S)
        seen_by_admin = await admin.next(WAIT_S)
    assert first is not None
    assert (first.id, first.status) == (ann, "accepted")
    # One decoded object, shared by every follower in the process.
    assert second is first
    assert seen_by_admin is first
    assert topic.decoded == decoded_before + 1


async def test_admin_streams_get_every_event_of_their_room_only(
    make_store: StoreFactory,
) -> None:
    under_test = make_store(DEFAULT_TIMEOUTS)
    store = under_test.store
    topic = place_events(under_test.broker)
    ann, bob, other = new_id(), new_id(), new_id()
    await _settled_waiting(under_test, ROOM, ann, bob)
    await _settled_waiting(under_test, OTHER_ROOM, other)
    async with (
        topic.subscribe(events_channel(ROOM)) as admin,
        topic.subscribe(events_channel(ROOM)) as second_admin,
        topic.subscribe(events_channel(ROOM), ann) as ann_stream,
    ):
        cat = new_id()
        await ask(store, cat)
        await store.decide(OTHER_ROOM, other, Status.ACCEPTED)
        await store.decide(ROOM, bob, Status.DENIED)
        await store.decide(ROOM, ann, Status.ACCEPTED)
        expected = [(cat, "waiting"), (bob, "denied"), (ann, "accepted")]
        for follower in (admin, second_admin):
            seen: list[tuple[str, str]] = []
            for _ in expected:
                event = await follower.next(WAIT_S)
                assert event is not None, f"admin saw only {seen}"
                seen.append((event.id, event.status))
            assert seen == expected
        # Ann's own stream got Ann's event only, after the others were dispatched.
        assert ann_stream.delivered == 1
        event = await ann_stream.next(WAIT_S)
        assert event is not None
        assert (event.id, event.status) == (ann, "accepted")
        assert await admin.next(0.2) is None  # nothing of the other room


async def test_it_drops_an_undecodable_message_and_goes_on(make_store: StoreFactory) -> None:
    under_test = make_store(DEFAULT_TIMEOUTS)
    topic = place_events(under_test.broker)
    ann = new_id()
    await _settled_waiting(under_test, ROOM, ann)
    channel = events_channel(ROOM)
    async with topic.subscribe(channel) as admin, topic.subscribe(channel, ann) as ann_stream:
        await under_test.broker.publish(channel, "not json")
        await under_test.broker.publish(channel, "[1, 2]")
        await under_test.store.decide(ROOM, ann, Status.ACCEPTED)
        for follower in (admin, ann_stream):
            event = await follower.next(WAIT_S)
            assert event is not None
            assert (event.id, event.status) == (ann, "accepted")
            assert follower.delivered == 1


async def test_ending_the_subscriptions_ends_every_place_follower(
    make_store: StoreFactory,
) -> None:
    under_test = make_store(DEFAULT_TIMEOUTS)
    topic = place_events(under_test.broker)
    ann = new_id()
    channel = events_channel(ROOM)
    async with topic.subscribe(channel, ann) as ann_stream, topic.subscribe(channel) as admin:
        under_test.broker.end_subscriptions()
        for follower in (ann_stream, admin):
            with pytest.raises(SubscriptionEnded):
                await follower.next(WAIT_S)
    # A stream opened while the process stops ends at once.
    async with topic.subscribe(channel, ann) as late:
        with pytest.raises(SubscriptionEnded):
            await late.next(WAIT_S)
