from __future__ import annotations

from utils.ttl_cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_good_for_ttl_seconds() -> None:
    clock = Clock()
    cache: TtlCache[int, str] = TtlCache(ttl=30, clock=clock)
    cache.put(1, "ann")
    clock.now += 29.9
    assert cache.get(1) == "ann"
    clock.now += 0.1
    assert cache.get(1) is None
    assert len(cache) == 0


def test_a_load_that_raced_an_invalidation_is_not_put_back() -> None:
    cache: TtlCache[int, str] = TtlCache(ttl=30, clock=Clock())
    before = cache.generation()  # a reader starts loading...
    cache.invalidate(1)  # ...a change commits meanwhile
    cache.put(1, "old", since=before)
    assert cache.get(1) is None
    cache.put(1, "new", since=cache.generation())
    assert cache.get(1) == "new"


def test_bounded_and_off_at_zero() -> None:
    cache: TtlCache[int, int] = TtlCache(ttl=30, max_items=2, clock=Clock())
    for key in range(3):
        cache.put(key, key)
    assert (cache.get(0), cache.get(1), cache.get(2)) == (None, 1, 2)
    off: TtlCache[int, int] = TtlCache(ttl=0, clock=Clock())
    off.put(1, 1)
    assert off.get(1) is None
