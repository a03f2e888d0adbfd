from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from utils.correlation import CorrelationReport, ErrorCorrelator


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


def make(fake_clock: FakeClock, **kwargs: Any) -> ErrorCorrelator:
    return ErrorCorrelator(clock=fake_clock, **kwargs)


def test_empty_report(fake_clock: FakeClock) -> None:
    correlator = make(fake_clock, window_seconds=60)
    assert correlator.report() == CorrelationReport(
        window_seconds=60.0,
        total=0,
        rate_per_minute=0.0,
        by_category={},
        rate_by_category={},
        dominant_fingerprint=None,
        dominant_count=0,
        dominant_category=None,
        storm=False,
    )
    assert len(correlator) == 0
    assert correlator.count("x") == 0
    assert not correlator.is_storm()
    assert not correlator.is_storm("x")


def test_record_returns_occurrences_in_window_including_this_one(fake_clock: FakeClock) -> None:
    correlator = make(fake_clock)
    assert correlator.record("network", "A") == 1
    assert correlator.record("network", "B") == 1
    assert correlator.record("db", "A") == 2
    assert correlator.count("A") == 2
    assert correlator.count("B") == 1
    assert len(correlator) == 3


def test_events_expire_when_the_window_passes(fake_clock: FakeClock) -> None:
    correlator = make(fake_clock, window_seconds=300)
    correlator.record("network", "A")
    fake_clock.advance(100)
    correlator.record("network", "A")
    fake_clock.advance(199.9)
    assert correlator.count("A") == 2
    fake_clock.advance(0.1)  # the first event is exactly window_seconds old: out
    assert correlator.count("A") == 1
    assert correlator.report().by_category == {"network": 1}
    fake_clock.advance(100)
    assert correlator.count("A") == 0
    assert len(correlator) == 0
    assert correlator.report().by_category == {}
    assert correlator.record("network", "A") == 1


def test_max_events_bounds_memory_and_keeps_counters_consistent(fake_clock: FakeClock) -> None:
    window, max_events = 50.0, 100
    correlator = make(fake_clock, window_seconds=window, max_events=max_events)
    rng = random.Random(7)
    recorded: list[tuple[float, str, str]] = []
    for step in range(3_000):
        busy = (step // 500) % 2 == 0  # alternate bursts that overflow max_events with slow spells
        fake_clock.advance(rng.choice([0.0, 0.01, 0.1] if busy else [1.0, 5.0]))
        category = f"c{rng.randrange(6)}"
        fingerprint = f"f{rng.randrange(40)}"
        returned = correlator.record(category, fingerprint)
        recorded.append((fake_clock.now, category, fingerprint))

        # brute force: the newest max_events events that are still inside the window
        held = [e for e in recorded[-max_events:] if fake_clock.now - e[0] < window]
        assert len(correlator) == len(held) <= max_events
        assert returned == sum(1 for e in held if e[2] == fingerprint)
        if step % 50 == 0 or step > 2_950:
            report = correlator.report()
            by_fingerprint = Counter(e[2] for e in held)
            assert report.total == len(held)
            assert report.by_category == dict(Counter(e[1] for e in held))
            for name in {f"f{i}" for i in range(40)}:
                assert correlator.count(name) == by_fingerprint[name]
            assert report.dominant_count == max(by_fingerprint.values())
    assert correlator.report().dropped > 0


def test_held_strings_do_not_grow_with_every_fingerprint_ever_seen(fake_clock: FakeClock) -> None:
    correlator = make(fake_clock, window_seconds=10, max_events=50)
    for i in range(5_000):
        fake_clock.advance(0.5)
        correlator.record(f"cat{i % 3}", f"fingerprint-{i}")
    assert len(correlator) == 20
    # white-box: no fingerprint repeats, so no fingerprint text is held; categories shared
    assert correlator._texts == {}
    assert len(correlator._shared) == 3


def test_texts_are_held_only_while_a_fingerprint_repeats(fake_clock: FakeClock) -> None:
    correlator = make(fake_clock, window_seconds=10)
    correlator.record("net", "once")
    correlator.record("net", "twice")
    fake_clock.advance(5)
    correlator.record("net", "twice")
    assert set(correlator._texts.values()) == {"twice"}
    fake_clock.advance(5)  # the first "twice" leaves: it no longer repeats
    assert correlator.count("twice") == 1
    assert correlator._texts == {}
    assert correlator.report().dominant_fingerprint == "twice"  # the newest, none repeats


def test_many_distinct_fingerprints_in_a_small_table_keep_exact_counts(
    fake_clock: FakeClock,
) -> None:
    correlator = make(fake_clock, window_seconds=1e9, max_events=16)  # 32 slots: collisions
    rng = random.Random(3)
    recorded: list[str] = []
    for _ in range(5_000):
        fingerprint = f"f{rng.randrange(60)}"
        recorded.append(fingerprint)
        held = Counter(recorded[-16:])
        assert correlator.record("c", fingerprint) == held[fingerprint]
        for name, count in held.items():
            assert correlator.count(name) == count
    assert correlator.report().dominant_count == max(Counter(recorded[-16:]).values())


def test_rates_are_per_minute_over_the_window(fake_clock: FakeClock) -> None:
    correlator = make(fake_clock, window_seconds=300, storm_rate_per_minute=1000)
    for i in range(60):
        fake_clock.advance(1)
        correlator.record("network" if i % 3 else "database", f"fp{i % 7}")
    report = correlator.report()
    assert report.total == 60
    assert report.rate_per_minute == pytest.approx(12.0)  # 60 events / 5 minutes
    assert report.by_category == {"network": 40, "database": 20}
    assert report.rate_by_category == pytest.approx({"network": 8.0, "database": 4.0})


def test_dominant_fingerprint_and_category(fake_clock: FakeClock) -> None:
    correlator = make(fake_clock)
    for _ in range(5):
        correlator.record("telegram", "TelegramRetryAfter@send")
    for fingerprint in ("a", "b", "c"):
        for _ in range(3):
            correlator.record("database", fingerprint)
    report = correlator.report()
    assert report.dominant_fingerprint == "TelegramRetryAfter@send"
    assert report.dominant_count == 5
    assert report.dominant_category == "database"  # 9 events against 5


def test_dominant_ties_are_broken_by_name(fake_clock: FakeClock) -> None:
    correlator = make(fake_clock)
    for name in ("zeta", "alpha", "mid"):
        correlator.record(name, name)
        correlator.record(name, name)
    report = correlator.report()
    assert (report.dominant_fingerprint, report.dominant_category) == ("alpha", "alpha")


def test_when_no_fingerprint_repeats_the_newest_is_dominant(fake_clock: FakeClock) -> None:
    correlator = make(fake_clock)
    for name in ("zeta", "alpha", "mid"):
        correlator.record(name, name)
    report = correlator.report()
    assert (report.dominant_fingerprint, report.dominant_count) == ("mid", 1)
    assert report.dominant_category == "alpha"  # categories: ties by name


def test_dominance_moves_as_events_expire(fake_clock: FakeClock) -> None:
    correlator = make(fake_clock, window_seconds=60)
    for _ in range(5):
        correlator.record("old", "old-fp")
    fake_clock.advance(30)
    for _ in range(2):
        correlator.record("new", "new-fp")
    assert correlator.report().dominant_fingerprint == "old-fp"
    fake_clock.advance(30)
    report = correlator.report()
    assert (report.dominant_fingerprint, report.dominant_count) == ("new-fp", 2)
    assert report.dominant_category == "new"


def test_storm_by_overall_rate(fake_clock: FakeClock) -> None:
    correlator = make(
        fake_clock, window_seconds=60, storm_rate_per_minute=30, storm_fingerprint_count=1000
    )
    for i in range(29):
        correlator.record("network", f"fp{i}")
        fake_clock.advance(1)
    assert not correlator.is_storm()
    assert not correlator.report().storm
    correlator.record("network", "fp29")
    assert correlator.report().rate_per_minute == pytest.approx(30.0)
    assert correlator.is_storm()
    assert correlator.report().storm
    assert not correlator.is_storm("fp29")


def test_storm_by_a_single_fingerprint(fake_clock: FakeClock) -> None:
    correlator = make(
        fake_clock, window_seconds=300, storm_rate_per_minute=1000, storm_fingerprint_count=20
    )
    for _ in range(19):
        correlator.record("database", "deadlock")
        correlator.record("network", "noise")
    assert not correlator.is_storm("deadlock")
    assert not correlator.is_storm()
    assert correlator.record("database", "deadlock") == 20
    assert correlator.is_storm("deadlock")
    assert not correlator.is_storm("noise")
    assert correlator.is_storm()
    report = correlator.report()
    assert report.storm
    assert report.rate_per_minute < 1000


def test_storm_ends_when_the_window_passes(fake_clock: FakeClock) -> None:
    correlator = make(
        fake_clock, window_seconds=60, storm_rate_per_minute=10, storm_fingerprint_count=5
    )
    for _ in range(12):
        correlator.record("network", "timeout")
    assert correlator.is_storm()
    assert correlator.is_storm("timeout")
    fake_clock.advance(59.99)
    assert correlator.is_storm()
    fake_clock.advance(0.01)
    assert not correlator.is_storm()
    assert not correlator.is_storm("timeout")
    assert correlator.report().total == 0


def test_a_clock_stepping_back_does_not_break_eviction(fake_clock: FakeClock) -> None:
    correlator = make(fake_clock, window_seconds=10)
    correlator.record("a", "x")
    fake_clock.advance(-100)
    correlator.record("a", "x")  # stamped at the latest time seen, not in the past
    fake_clock.advance(100 + 10)
    assert len(correlator) == 0


def test_report_is_a_snapshot(fake_clock: FakeClock) -> None:
    correlator = make(fake_clock)
    correlator.record("a", "x")
    report = correlator.report()
    report.by_category["a"] = 99
    correlator.record("a", "x")
    assert correlator.report().by_category == {"a": 2}
    with pytest.raises(AttributeError):
        report.total = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"window_seconds": 0}, "window_seconds"),
        ({"window_seconds": -1.0}, "window_seconds"),
        ({"window_seconds": float("inf")}, "window_seconds"),
        ({"window_seconds": float("nan")}, "window_seconds"),
        ({"max_events": 0}, "max_events"),
        ({"max_events": 1.5}, "max_events"),
        ({"max_events": True}, "max_events"),
        ({"storm_rate_per_minute": 0}, "storm_rate_per_minute"),
        ({"storm_rate_per_minute": float("nan")}, "storm_rate_per_minute"),
        ({"storm_fingerprint_count": 0}, "storm_fingerprint_count"),
        ({"storm_fingerprint_count": 2.0}, "storm_fingerprint_count"),
        ({"clock": 5}, "clock"),
    ],
)
def test_constructor_validates_arguments(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name} "):
        ErrorCorrelator(**kwargs)


def test_defaults() -> None:
    correlator = ErrorCorrelator()
    assert correlator.window_seconds == 300.0
    assert correlator.max_events == 10_000
    assert correlator.record("a", "b") == 1
