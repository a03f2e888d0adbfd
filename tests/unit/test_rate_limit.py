"""The rate limiter and the backoff schedule, on injected time: nothing here really sleeps."""

from __future__ import annotations

import asyncio

import pytest

from utils.backoff import backoff_seconds
from utils.rate_limit import RateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def starts(limiter: RateLimiter, t: FakeTime, keys: list[object]) -> list[float]:
    """Start one call per key in order, each as early as allowed; the times they started."""
    times = []
    for key in keys:
        t.now = max(t.now, limiter.ready_at(key))
        assert limiter.start(key)
        times.append(round(t.now - 100.0, 6))
    return times


def most_in_any_window(times: list[float], window: float) -> int:
    # times are rounded to the microsecond: a start exactly one window later is outside
    return max(sum(start <= u < start + window - 1e-6 for u in times) for start in times)


async def test_overall_at_most_the_rate_in_any_second_plus_the_margin() -> None:
    t = FakeTime()
    limiter = RateLimiter(30, 1, margin=0.03, clock=t.clock, sleep=t.sleep)
    times = starts(limiter, t, list(range(90)))
    assert most_in_any_window(times, 1.03) == 30
    # Spread out, not burst: three at once (the slack), then one every 1.03 / 30 s.
    interval = 1.03 / 30
    assert times[:3] == [0.0] * 3
    assert times[3:6] == pytest.approx([interval, 2 * interval, 3 * interval], abs=1e-6)
    assert times[89] - times[59] == pytest.approx(30 * interval, abs=1e-6)


async def test_late_starts_are_made_up_but_never_past_the_window() -> None:
    t = FakeTime()
    limiter = RateLimiter(10, 10, clock=t.clock, sleep=t.sleep)
    assert limiter.start(0)
    t.now += 0.35  # this process was busy: the next starts come in quick succession
    times = starts(limiter, t, list(range(1, 40)))
    assert times[:3] == [0.35, 0.35, 0.35]
    assert most_in_any_window([0.0, *times], 1.0) == 10


async def test_one_chat_waits_a_second_and_the_margin_after_its_last_start() -> None:
    t = FakeTime()
    limiter = RateLimiter(30, 1, key_margin=0.05, clock=t.clock, sleep=t.sleep)
    assert limiter.start("a")
    assert limiter.ready_at("a") == pytest.approx(101.05)
    assert limiter.ready_at("b") <= t.now  # another chat need not wait at all
    assert limiter.start("b")
    t.now = 101.04
    assert not limiter.start("a")  # 1.04 s after its last start: not yet
    t.now = 101.05
    assert limiter.start("a")


async def test_a_start_is_counted_when_it_starts_not_when_it_is_answered() -> None:
    t = FakeTime()
    limiter = RateLimiter(30, 1, clock=t.clock, sleep=t.sleep)
    assert limiter.start("a")
    t.now += 0.4  # the call took 400 ms to answer: the next may still start 1 s after the first
    assert limiter.ready_at("a") == pytest.approx(101.0)


async def test_acquire_sleeps_until_allowed() -> None:
    t = FakeTime()
    limiter = RateLimiter(2, 1, clock=t.clock, sleep=t.sleep)
    for key in ("a", "b", "c", "a", "a"):
        await limiter.acquire(key)
    # c waits for the overall window; the second a starts with it (its second is over too);
    # the third a waits for both
    assert t.sleeps == [1.0, 1.0]
    assert t.now == pytest.approx(102.0)


async def test_a_rate_below_one_widens_the_window() -> None:
    t = FakeTime()
    limiter = RateLimiter(0.5, 0.25, clock=t.clock, sleep=t.sleep)
    assert starts(limiter, t, ["a", "b", "a"]) == [0.0, 2.0, 4.0]


async def test_pause_holds_everything_back() -> None:
    t = FakeTime()
    limiter = RateLimiter(30, 1, clock=t.clock, sleep=t.sleep)
    limiter.pause(7)
    assert limiter.paused_for() == 7
    await limiter.acquire("x")
    assert t.sleeps == [7.0]
    assert limiter.paused_for() == 0


async def test_a_pause_that_comes_while_a_caller_sleeps_is_kept() -> None:
    t = FakeTime()
    limiter = RateLimiter(1, 1, clock=t.clock, sleep=t.sleep)
    assert limiter.start("a")
    original = t.sleep

    async def sleep_then_429(seconds: float) -> None:
        await original(seconds)
        if len(t.sleeps) == 1:
            limiter.pause(3)  # a 429 answered while this caller slept

    limiter._sleep = sleep_then_429
    await limiter.acquire("b")
    assert t.sleeps == [1.0, 3.0]
    assert t.now == pytest.approx(104.0)


async def test_concurrent_callers_never_share_the_last_slot() -> None:
    t = FakeTime()
    limiter = RateLimiter(2, 10, clock=t.clock, sleep=t.sleep)
    await asyncio.gather(*(limiter.acquire(n) for n in range(5)))
    times = sorted(limiter._starts)
    assert most_in_any_window([*times], 1.0) <= 2
    assert t.now == pytest.approx(102.0)


def test_idle_chats_are_forgotten() -> None:
    t = FakeTime()
    limiter = RateLimiter(1_000_000, 1, clock=t.clock, sleep=t.sleep)
    for chat in range(5000):
        assert limiter.start(chat)
        t.now += 0.001
    assert len(limiter._key_starts) < 5000


def test_rates_must_be_positive_and_margins_not_negative() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0, 1)
    with pytest.raises(ValueError, match="negative"):
        RateLimiter(30, 1, key_margin=-0.1)


def test_backoff_doubles_up_to_the_cap() -> None:
    exact = [backoff_seconds(n, base=30, cap=600, random=lambda: 0.5) for n in range(1, 8)]
    assert exact == [30, 60, 120, 240, 480, 600, 600]


def test_backoff_jitter_stays_within_twenty_percent_and_under_the_cap() -> None:
    assert backoff_seconds(2, base=30, cap=600, random=lambda: 0.0) == pytest.approx(48)
    assert backoff_seconds(2, base=30, cap=600, random=lambda: 0.999999) == pytest.approx(72)
    assert backoff_seconds(9, base=30, cap=600, random=lambda: 0.999999) == 600


def test_without_spreading_a_frozen_clock_allows_the_whole_window_at_once() -> None:
    t = FakeTime()
    limiter = RateLimiter(30, 1, spread=False, clock=t.clock, sleep=t.sleep)
    assert all(limiter.start(chat) for chat in range(30))
    assert not limiter.start(30)
