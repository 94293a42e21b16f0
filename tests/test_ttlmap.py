"""The one map of expiring entries behind the in-memory stores and the process caches."""

from __future__ import annotations

from antechamber.ttlmap import MIN_SWEEP, TTLMap


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_it_reads_an_entry_as_absent_once_its_time_is_up() -> None:
    clock = Clock()
    entries: TTLMap[str, str] = TTLMap(clock=clock)
    entries.put("a", "alice", 10)
    assert entries.get("a") == "alice"
    assert entries.entry("a") == ("alice", 1010.0)
    clock.now = 1010.0
    assert entries.get("a") is None
    assert entries.pop("a") is None
    assert list(entries.items()) == []


def test_it_pops_and_discards() -> None:
    entries: TTLMap[str, int] = TTLMap(clock=Clock())
    entries.put("a", 1, 10)
    entries.put("b", 2, 10)
    assert entries.pop("a") == 1
    assert entries.get("a") is None
    entries.discard("b")
    entries.discard("missing")
    assert len(entries) == 0


def test_it_drops_expired_entries_as_it_grows() -> None:
    clock = Clock()
    entries: TTLMap[int, int] = TTLMap(clock=clock)
    for i in range(10 * MIN_SWEEP):
        entries.put(i, i, 1)
        clock.now += 0.01
    # Whatever was written, it holds at most about twice what is live.
    live = sum(1 for _ in entries.items())
    assert live <= 100
    assert len(entries) <= max(MIN_SWEEP, 2 * live) + 1


def test_a_bounded_cache_forgets_everything_past_its_size() -> None:
    entries: TTLMap[int, int] = TTLMap(max_entries=3, clock=Clock())
    for i in range(3):
        entries.put(i, i, 60)
    assert len(entries) == 3
    entries.put(1, 10, 60)  # a key it holds takes no new room
    assert entries.get(0) == 0
    entries.put(3, 3, 60)
    assert [k for k, _ in entries.items()] == [3]
