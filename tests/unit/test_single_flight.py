from __future__ import annotations

import asyncio

import pytest

from utils.single_flight import CachedCall


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Gated:
    """A load that waits for `open` and counts its runs."""

    def __init__(self) -> None:
        self.runs = 0
        self.open = asyncio.Event()
        self.fail: BaseException | None = None

    async def __call__(self) -> int:
        self.runs += 1
        await self.open.wait()
        if self.fail is not None:
            raise self.fail
        return self.runs


async def test_concurrent_callers_share_one_run() -> None:
    load = Gated()
    cached = CachedCall(load, ttl=5, clock=Clock())
    waiters = [asyncio.create_task(cached.get()) for _ in range(200)]
    await asyncio.sleep(0)
    load.open.set()
    assert await asyncio.gather(*waiters) == [1] * 200
    assert load.runs == 1 == cached.runs


async def test_kept_for_ttl_then_run_again() -> None:
    load, clock = Gated(), Clock()
    load.open.set()
    cached = CachedCall(load, ttl=5, clock=clock)
    assert await cached.get() == 1
    clock.now = 4.9
    assert await cached.get() == 1
    clock.now = 5.0
    assert await cached.get() == 2


async def test_a_failure_reaches_every_waiter_and_is_not_kept() -> None:
    load = Gated()
    load.fail = RuntimeError("database away")
    cached = CachedCall(load, ttl=5, clock=Clock())
    waiters = [asyncio.create_task(cached.get()) for _ in range(3)]
    await asyncio.sleep(0)
    load.open.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert [str(r) for r in results] == ["database away"] * 3
    load.fail = None
    assert await cached.get() == 2  # the next caller runs it again


async def test_a_caller_giving_up_does_not_cancel_the_others_run() -> None:
    load = Gated()
    cached = CachedCall(load, ttl=5, clock=Clock())
    first = asyncio.create_task(cached.get())
    second = asyncio.create_task(cached.get())
    await asyncio.sleep(0)
    first.cancel()
    load.open.set()
    assert await second == 1
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_ttl_zero_runs_every_call() -> None:
    load = Gated()
    load.open.set()
    cached = CachedCall(load, ttl=0, clock=Clock())
    assert [await cached.get() for _ in range(3)] == [1, 2, 3]
