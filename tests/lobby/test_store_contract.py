"""One contract for every LobbyStore: what the Redis and the in-memory lobby both promise."""

from __future__ import annotations

import asyncio
import json
import random
import uuid

from antechamber.lobby.store import (
    DecisionOutcome,
    LobbyStore,
    RateLimit,
    RequestOutcome,
    RequestResult,
    Status,
    Timeouts,
    events_channel,
)
from tests.lobby.conftest import StoreFactory

ROOM = "11111111-1111-4111-8111-111111111111"
OTHER_ROOM = "22222222-2222-4222-8222-222222222222"
NO_LIMIT = RateLimit(0)
SHORT = Timeouts(waiting_ms=300, accepted_ms=300, denied_ms=300)


def new_id() -> str:
    return str(uuid.uuid4())


async def ask(
    store: LobbyStore,
    who: str,
    name: str = "Ann",
    room: str = ROOM,
    client: str = "127.0.0.1",
    max_waiting: int = 100,
    rate_limit: RateLimit = NO_LIMIT,
) -> RequestResult:
    return await store.request(room, who, f"identity-{who}", name, client, max_waiting, rate_limit)


async def test_it_starts_waiting_then_keeps_the_place(make_store: StoreFactory) -> None:
    store = make_store(Timeouts(60_000, 60_000, 60_000)).store
    ann = new_id()
    first = await ask(store, ann)
    again = await ask(store, ann, name="Ann B.")
    assert first.outcome is RequestOutcome.CREATED
    assert again.outcome is RequestOutcome.EXISTING
    assert first.place is not None
    assert again.place is not None
    assert again.place.status is Status.WAITING
    assert again.place.requested_at_ms == first.place.requested_at_ms
    assert again.place.username == "Ann B."
    assert again.place.identity == f"identity-{ann}"


async def test_it_lists_waiting_people_oldest_first_per_room(make_store: StoreFactory) -> None:
    store = make_store(Timeouts(60_000, 60_000, 60_000)).store
    people = [new_id() for _ in range(5)]
    for who in people:
        await ask(store, who)
        await asyncio.sleep(0.002)
    await ask(store, new_id(), room=OTHER_ROOM)
    await store.decide(ROOM, people[1], Status.ACCEPTED)
    listed = await store.waiting(ROOM)
    assert [p.id for p in listed] == [people[0], *people[2:]]
    assert len(await store.waiting(OTHER_ROOM)) == 1


async def test_it_decides_once_and_repeats_the_same_decision(make_store: StoreFactory) -> None:
    store = make_store(Timeouts(60_000, 60_000, 60_000)).store
    ann = new_id()
    await ask(store, ann)
    outcome, place = await store.decide(ROOM, ann, Status.ACCEPTED)
    assert outcome is DecisionOutcome.DECIDED
    assert place is not None
    assert place.status is Status.ACCEPTED
    assert (await store.decide(ROOM, ann, Status.ACCEPTED))[0] is DecisionOutcome.SAME
    outcome, place = await store.decide(ROOM, ann, Status.DENIED)
    assert outcome is DecisionOutcome.CONFLICT
    assert place is not None
    assert place.status is Status.ACCEPTED
    assert (await store.decide(ROOM, new_id(), Status.ACCEPTED))[0] is DecisionOutcome.MISSING
    polled = await ask(store, ann)
    assert polled.place is not None
    assert polled.place.status is Status.ACCEPTED


async def test_it_lets_exactly_one_of_many_concurrent_decisions_win(
    make_store: StoreFactory,
) -> None:
    store = make_store(Timeouts(60_000, 60_000, 60_000)).store
    for _ in range(5):
        ann = new_id()
        await ask(store, ann)
        wanted = [random.choice([Status.ACCEPTED, Status.DENIED]) for _ in range(40)]
        results = await asyncio.gather(*(store.decide(ROOM, ann, s) for s in wanted))
        winners = [
            i for i, (outcome, _) in enumerate(results) if outcome is DecisionOutcome.DECIDED
        ]
        assert len(winners) == 1
        final = wanted[winners[0]]
        for status, (outcome, place) in zip(wanted, results, strict=True):
            assert place is not None
            assert place.status is final
            if outcome is not DecisionOutcome.DECIDED:
                expected = DecisionOutcome.SAME if status is final else DecisionOutcome.CONFLICT
                assert outcome is expected


async def test_it_expires_a_place_nobody_refreshes_and_never_revives_it(
    make_store: StoreFactory,
) -> None:
    store = make_store(SHORT).store
    ann, bob = new_id(), new_id()
    await ask(store, ann)
    await ask(store, bob)
    for _ in range(4):
        await asyncio.sleep(0.1)
        await store.get(ROOM, bob, refresh=True)  # bob keeps polling
    assert [p.id for p in await store.waiting(ROOM)] == [bob]
    assert (await store.decide(ROOM, ann, Status.ACCEPTED))[0] is DecisionOutcome.MISSING
    assert await store.get(ROOM, ann, refresh=False) is None
    again = await ask(store, ann)
    assert again.outcome is RequestOutcome.CREATED


async def test_it_keeps_a_denial_until_its_cooldown_ends(make_store: StoreFactory) -> None:
    store = make_store(Timeouts(waiting_ms=60_000, accepted_ms=60_000, denied_ms=300)).store
    ann = new_id()
    await ask(store, ann)
    await store.decide(ROOM, ann, Status.DENIED)
    blocked = await ask(store, ann)
    assert blocked.outcome is RequestOutcome.EXISTING
    assert blocked.place is not None
    assert blocked.place.status is Status.DENIED
    await asyncio.sleep(0.4)
    fresh = await ask(store, ann)
    assert fresh.outcome is RequestOutcome.CREATED
    assert fresh.place is not None
    assert fresh.place.status is Status.WAITING


async def test_it_remembers_an_admission_for_its_lifetime_only(make_store: StoreFactory) -> None:
    store = make_store(Timeouts(waiting_ms=60_000, accepted_ms=300, denied_ms=60_000)).store
    ann = new_id()
    await ask(store, ann)
    await store.decide(ROOM, ann, Status.ACCEPTED)
    still = await ask(store, ann)
    assert still.place is not None
    assert still.place.status is Status.ACCEPTED
    await asyncio.sleep(0.4)
    later = await ask(store, ann)
    assert later.outcome is RequestOutcome.CREATED


async def test_it_refuses_new_places_when_the_room_is_full(make_store: StoreFactory) -> None:
    store = make_store(Timeouts(60_000, 60_000, 60_000)).store
    first, second, third = new_id(), new_id(), new_id()
    assert (await ask(store, first, max_waiting=2)).outcome is RequestOutcome.CREATED
    assert (await ask(store, second, max_waiting=2)).outcome is RequestOutcome.CREATED
    assert (await ask(store, third, max_waiting=2)).outcome is RequestOutcome.FULL
    assert (await ask(store, first, max_waiting=2)).outcome is RequestOutcome.EXISTING
    await store.decide(ROOM, first, Status.ACCEPTED)
    assert (await ask(store, third, max_waiting=2)).outcome is RequestOutcome.CREATED


async def test_it_limits_new_places_per_client_address(make_store: StoreFactory) -> None:
    store = make_store(Timeouts(60_000, 60_000, 60_000)).store
    limit = RateLimit(limit=2, window_ms=300)
    people = [new_id() for _ in range(3)]
    outcomes = [(await ask(store, p, rate_limit=limit)).outcome for p in people]
    assert outcomes == [RequestOutcome.CREATED, RequestOutcome.CREATED, RequestOutcome.LIMITED]
    limited = await ask(store, new_id(), rate_limit=limit)
    assert 0 < limited.retry_after_ms <= 300
    # Polls of existing places are not new places, and other addresses have their own count.
    assert (await ask(store, people[0], rate_limit=limit)).outcome is RequestOutcome.EXISTING
    other = await ask(store, new_id(), client="10.0.0.2", rate_limit=limit)
    assert other.outcome is RequestOutcome.CREATED
    await asyncio.sleep(0.35)
    assert (await ask(store, people[2], rate_limit=limit)).outcome is RequestOutcome.CREATED


async def test_it_decides_for_everyone_waiting_at_once(make_store: StoreFactory) -> None:
    store = make_store(Timeouts(60_000, 60_000, 60_000)).store
    people = [new_id() for _ in range(4)]
    for who in people:
        await ask(store, who)
    await store.decide(ROOM, people[0], Status.DENIED)
    assert await store.decide_all(ROOM, Status.ACCEPTED) == 3
    assert await store.waiting(ROOM) == []
    statuses = [(await store.get(ROOM, who, refresh=False)) for who in people]
    assert [p.status if p else None for p in statuses] == [
        Status.DENIED,
        Status.ACCEPTED,
        Status.ACCEPTED,
        Status.ACCEPTED,
    ]
    assert await store.decide_all(ROOM, Status.DENIED) == 0


async def test_it_decides_only_the_oldest_up_to_a_limit(make_store: StoreFactory) -> None:
    store = make_store(Timeouts(60_000, 60_000, 60_000)).store
    people = [new_id() for _ in range(4)]
    for who in people:
        await ask(store, who)
    # In the waiting list's order (arrival, ties broken by id).
    people = [p.id for p in await store.waiting(ROOM)]
    assert await store.decide_all(ROOM, Status.ACCEPTED, 0) == 0
    assert await store.decide_all(ROOM, Status.ACCEPTED, 2) == 2
    assert [p.id for p in await store.waiting(ROOM)] == people[2:]
    statuses = [(await store.get(ROOM, who, refresh=False)) for who in people]
    assert [p.status if p else None for p in statuses] == [
        Status.ACCEPTED,
        Status.ACCEPTED,
        Status.WAITING,
        Status.WAITING,
    ]
    assert await store.decide_all(ROOM, Status.ACCEPTED, 5) == 2
    assert await store.waiting(ROOM) == []


async def test_it_forgets_places_by_id_or_identity(make_store: StoreFactory) -> None:
    store = make_store(Timeouts(60_000, 60_000, 60_000)).store
    ann, bob = new_id(), new_id()
    await ask(store, ann)
    await ask(store, bob)
    await store.decide(ROOM, ann, Status.ACCEPTED)
    assert await store.forget(ROOM, ann) is True
    assert await store.forget(ROOM, ann) is False
    assert await store.forget_identity(ROOM, f"identity-{bob}") == 1
    assert await store.get(ROOM, bob, refresh=False) is None
    assert await store.waiting(ROOM) == []


async def test_it_puts_someone_back_to_wait(make_store: StoreFactory) -> None:
    store = make_store(Timeouts(60_000, 60_000, 60_000)).store
    ann = new_id()
    await ask(store, ann)
    await store.decide(ROOM, ann, Status.ACCEPTED)
    place = await store.requeue(ROOM, ann, f"identity-{ann}", "Ann")
    assert place.status is Status.WAITING
    assert [p.id for p in await store.waiting(ROOM)] == [ann]
    assert (await store.decide(ROOM, ann, Status.ACCEPTED))[0] is DecisionOutcome.DECIDED


async def test_it_finds_a_place_by_the_identity_it_joins_with(make_store: StoreFactory) -> None:
    store = make_store(Timeouts(60_000, 60_000, 60_000)).store
    ann, bob = new_id(), new_id()
    await ask(store, ann)
    await ask(store, bob)
    await store.decide(ROOM, bob, Status.ACCEPTED)
    found = await store.find_identity(ROOM, f"identity-{bob}")
    assert found is not None
    assert (found.id, found.status) == (bob, Status.ACCEPTED)
    assert await store.find_identity(ROOM, "identity-nobody") is None
    assert await store.find_identity(OTHER_ROOM, f"identity-{ann}") is None


async def test_it_clears_one_room_only(make_store: StoreFactory) -> None:
    store = make_store(Timeouts(60_000, 60_000, 60_000)).store
    ann, bob = new_id(), new_id()
    await ask(store, ann)
    await ask(store, bob, room=OTHER_ROOM)
    await store.clear(ROOM)
    assert await store.waiting(ROOM) == []
    assert await store.get(ROOM, ann, refresh=False) is None
    assert [p.id for p in await store.waiting(OTHER_ROOM)] == [bob]


async def test_it_publishes_every_change_on_the_rooms_channel(make_store: StoreFactory) -> None:
    under_test = make_store(SHORT)
    store, broker = under_test.store, under_test.broker
    ann, bob = new_id(), new_id()
    async with broker.subscribe(events_channel(ROOM)) as subscription:
        await ask(store, ann)
        await ask(store, bob)
        await store.decide(ROOM, ann, Status.ACCEPTED)
        await store.decide(ROOM, ann, Status.ACCEPTED)  # no change: no event
        await asyncio.sleep(0.4)
        await store.waiting(ROOM)  # purges bob, who stopped polling
        seen = []
        while (message := await subscription.next(1.0)) is not None:
            event = json.loads(message)
            seen.append((event["id"], event["status"]))
            if len(seen) == 4:
                break
    assert seen == [(ann, "waiting"), (bob, "waiting"), (ann, "accepted"), (bob, "left")]


async def test_it_refuses_a_banned_identity_and_neither_creates_nor_keeps_its_place(
    make_store: StoreFactory,
) -> None:
    under_test = make_store(SHORT)
    store, bans = under_test.store, under_test.bans
    ann, bob = new_id(), new_id()
    assert (await ask(store, ann)).outcome is RequestOutcome.CREATED
    await bans.ban(ROOM, f"identity-{ann}", 60)
    await bans.ban(ROOM, f"identity-{bob}", 60)
    for _ in range(4):  # polls past the waiting timeout: a banned poll refreshes nothing
        banned = await ask(store, ann)
        assert banned.outcome is RequestOutcome.BANNED
        assert banned.place is None
        await asyncio.sleep(0.1)
    assert (await ask(store, bob)).outcome is RequestOutcome.BANNED
    assert await store.waiting(ROOM) == []
    assert await store.get(ROOM, ann, refresh=False) is None
    assert await store.get(ROOM, bob, refresh=False) is None
    # The ban is per room.
    assert (await ask(store, bob, room=OTHER_ROOM)).outcome is RequestOutcome.CREATED


async def test_it_changes_the_version_with_every_change_of_the_list_only(
    make_store: StoreFactory,
) -> None:
    store = make_store(Timeouts(60_000, 60_000, 60_000)).store
    ann, bob = new_id(), new_id()
    empty, fresh_ms = await store.version(ROOM)
    assert fresh_ms == -1  # nobody: nothing will expire
    await ask(store, ann)
    after_ann, fresh_ms = await store.version(ROOM)
    assert after_ann != empty
    assert 0 < fresh_ms <= 60_000
    await ask(store, ann)  # a poll: same list
    await store.get(ROOM, ann, refresh=True)
    assert (await store.version(ROOM))[0] == after_ann
    await ask(store, ann, name="Ann B.")  # a new name shows in the list
    renamed = (await store.version(ROOM))[0]
    assert renamed != after_ann
    await asyncio.sleep(0.002)
    await ask(store, bob)
    listing = await store.waiting_list(ROOM)
    assert [p.id for p in listing.places] == [ann, bob]
    assert listing.version == (await store.version(ROOM))[0] != renamed
    await store.decide(ROOM, bob, Status.DENIED)
    decided = (await store.version(ROOM))[0]
    assert decided != listing.version
    await store.decide(ROOM, bob, Status.DENIED)  # the same decision: nothing changed
    assert (await store.version(ROOM))[0] == decided
    await store.clear(ROOM)
    cleared = (await store.version(ROOM))[0]  # may equal `empty`: the same (empty) list
    await ask(store, ann)
    seen = {after_ann, renamed, listing.version, decided}
    assert len(seen) == 4
    assert cleared not in seen
    assert (await store.version(ROOM))[0] not in {empty, cleared, *seen}


async def test_it_counts_only_waiting_places_against_the_cap_through_every_transition(
    make_store: StoreFactory,
) -> None:
    store = make_store(Timeouts(waiting_ms=300, accepted_ms=60_000, denied_ms=60_000)).store
    people = [new_id() for _ in range(8)]

    async def new_place(who: str) -> RequestOutcome:
        return (await ask(store, who, max_waiting=2)).outcome

    assert [await new_place(p) for p in people[:3]] == [
        RequestOutcome.CREATED,
        RequestOutcome.CREATED,
        RequestOutcome.FULL,
    ]
    await store.forget(ROOM, people[0])
    assert await new_place(people[2]) is RequestOutcome.CREATED
    assert await store.decide_all(ROOM, Status.ACCEPTED, 1) == 1  # people[1]
    assert await new_place(people[3]) is RequestOutcome.CREATED
    assert await new_place(people[4]) is RequestOutcome.FULL
    await store.requeue(ROOM, people[1], f"identity-{people[1]}", "Ann")  # accepted -> waiting
    await store.requeue(ROOM, people[2], f"identity-{people[2]}", "Ann")  # waiting -> waiting
    assert await store.forget_identity(ROOM, f"identity-{people[3]}") == 1
    assert await new_place(people[4]) is RequestOutcome.FULL  # 1 and 2 wait
    await asyncio.sleep(0.4)  # both expire
    assert [await new_place(p) for p in people[4:7]] == [
        RequestOutcome.CREATED,
        RequestOutcome.CREATED,
        RequestOutcome.FULL,
    ]
    await store.decide(ROOM, people[4], Status.DENIED)
    assert await new_place(people[6]) is RequestOutcome.CREATED
    await store.clear(ROOM)
    assert [await new_place(p) for p in people[5:8]] == [
        RequestOutcome.CREATED,
        RequestOutcome.CREATED,
        RequestOutcome.FULL,
    ]


async def test_it_keeps_any_participant_id_and_an_identity_equal_to_it(
    make_store: StoreFactory,
) -> None:
    under_test = make_store(Timeouts(60_000, 60_000, 60_000))
    store, broker = under_test.store, under_test.broker
    # Service ids are UUIDs; other text ids must survive unchanged too, whatever their length.
    ids = [new_id(), "alice", "x" * 15, "y" * 16, "z" * 17, "\u00e9t\u00e9-" + "w" * 12]
    async with broker.subscribe(events_channel(ROOM)) as subscription:
        for pid in ids:
            result = await store.request(ROOM, pid, pid, f"name {pid}", "127.0.0.1", 100, NO_LIMIT)
            assert result.place is not None
            assert (result.place.id, result.place.identity) == (pid, pid)
        seen: list[str] = []
        while len(seen) < len(ids) and (message := await subscription.next(1.0)) is not None:
            seen.append(json.loads(message)["id"])
    assert seen == ids
    listed = await store.waiting(ROOM)
    assert sorted((p.id, p.identity, p.username) for p in listed) == sorted(
        (pid, pid, f"name {pid}") for pid in ids
    )
    for pid in ids:
        found = await store.find_identity(ROOM, pid)
        assert found is not None
        assert found.id == pid
    assert await store.forget_identity(ROOM, ids[0]) == 1
    assert await store.forget_identity(ROOM, "y" * 16) == 1
    assert {p.id for p in await store.waiting(ROOM)} == set(ids) - {ids[0], "y" * 16}


async def test_it_lists_ties_in_arrival_by_id_and_decides_the_oldest_in_that_order(
    make_store: StoreFactory,
) -> None:
    store = make_store(Timeouts(60_000, 60_000, 60_000)).store
    people = [new_id() for _ in range(30)]
    await ask(store, people[0])  # the client connected (a cluster client's first calls race)
    await asyncio.gather(*(ask(store, who) for who in people[1:]))  # many in the same ms
    listed = await store.waiting(ROOM)
    assert [(p.requested_at_ms, p.id) for p in listed] == sorted(
        (p.requested_at_ms, p.id) for p in listed
    )
    assert await store.decide_all(ROOM, Status.ACCEPTED, 10) == 10
    assert [p.id for p in await store.waiting(ROOM)] == [p.id for p in listed[10:]]
