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


async def test_overall_rate_spaces_calls_evenly() -> None:
    t = FakeTime()
    limiter = RateLimiter(30, 1, clock=t.clock, sleep=t.sleep)
    for chat in range(31):
        await limiter.acquire(chat)
    assert t.sleeps == [round(1 / 30, 6)] * 30
    assert t.now == pytest.approx(101.0)


async def test_one_chat_waits_a_second_between_messages_others_do_not() -> None:
    t = FakeTime()
    limiter = RateLimiter(30, 1, clock=t.clock, sleep=t.sleep)
    assert [limiter.reserve(k) for k in ("a", "a", "b", "a")] == pytest.approx(
        [0.0, 1.0, 1 / 30, 2.0]
    )


async def test_pause_holds_everything_back() -> None:
    t = FakeTime()
    limiter = RateLimiter(30, 1, clock=t.clock, sleep=t.sleep)
    limiter.pause(7)
    await limiter.acquire("x")
    assert t.sleeps == [7.0]


async def test_concurrent_callers_queue_in_order() -> None:
    t = FakeTime()
    limiter = RateLimiter(10, 10, clock=t.clock, sleep=t.sleep)
    delays = [limiter.reserve(n) for n in range(5)]
    assert delays == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    await asyncio.gather(*(limiter.acquire(n) for n in range(5, 7)))
    assert t.sleeps == pytest.approx([0.5, 0.1])


def test_rates_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0, 1)


def test_backoff_doubles_up_to_the_cap() -> None:
    exact = [backoff_seconds(n, base=30, cap=600, random=lambda: 0.5) for n in range(1, 8)]
    assert exact == [30, 60, 120, 240, 480, 600, 600]


def test_backoff_jitter_stays_within_twenty_percent_and_under_the_cap() -> None:
    assert backoff_seconds(2, base=30, cap=600, random=lambda: 0.0) == pytest.approx(48)
    assert backoff_seconds(2, base=30, cap=600, random=lambda: 0.999999) == pytest.approx(72)
    assert backoff_seconds(9, base=30, cap=600, random=lambda: 0.999999) == 600
