"""The circuit breaker's states and trial slots, on a fake clock."""

from __future__ import annotations

import asyncio
import gc
import logging
import pickle
import weakref
from collections.abc import Awaitable, Callable

import pytest

from utils.circuit_breaker import BreakerState, CircuitBreaker, CircuitOpenError

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN
START = 1000.0


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Boom(Exception):
    pass


class BadRequest(Exception):
    """An answer from the dependency, not a sign that it is down."""


class Gate:
    """An awaitable call that stays in flight until the test opens the gate."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.fail = fail

    async def __call__(self) -> str:
        self.entered.set()
        await self.release.wait()
        if self.fail is not None:
            raise self.fail
        return "done"


def make(clock: FakeClock, **kwargs: object) -> CircuitBreaker:
    settings: dict[str, object] = {
        "failure_threshold": 3,
        "reset_timeout": 30.0,
        "success_threshold": 2,
        "half_open_max_calls": 1,
    }
    settings.update(kwargs)
    return CircuitBreaker("api", clock=clock, **settings)  # type: ignore[arg-type]


def trip(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.failure_threshold):
        breaker.record_failure()
    assert breaker.state is OPEN


def to_half_open(breaker: CircuitBreaker, clock: FakeClock) -> None:
    trip(breaker)
    clock.advance(breaker.reset_timeout)
    assert breaker.state is HALF_OPEN


async def ok() -> str:
    return "ok"


async def boom() -> str:
    raise Boom


async def through(breaker: CircuitBreaker, fn: Callable[[], Awaitable[str]]) -> str:
    async with breaker:
        return await fn()


async def start(breaker: CircuitBreaker, gate: Gate) -> asyncio.Task[str]:
    """Run gate through the breaker and return once the call is admitted and in flight."""
    task = asyncio.create_task(through(breaker, gate))
    await gate.entered.wait()
    return task


def retry_after(breaker: CircuitBreaker) -> float:
    with pytest.raises(CircuitOpenError) as caught:
        breaker.allow()
    return caught.value.retry_after


# -- CLOSED -> OPEN ------------------------------------------------------------------------


def test_opens_after_exactly_failure_threshold_consecutive_failures() -> None:
    breaker = make(FakeClock(), failure_threshold=3)
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is CLOSED
    breaker.allow()  # still lets calls through one failure short of the threshold
    breaker.record_failure()
    assert breaker.state is OPEN


def test_a_success_in_between_resets_the_consecutive_count() -> None:
    breaker = make(FakeClock(), failure_threshold=3)
    for _ in range(2):
        breaker.record_failure()
    breaker.record_success()
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state is CLOSED
    breaker.record_failure()
    assert breaker.state is OPEN


async def test_async_with_counts_outcomes_and_lets_exceptions_through() -> None:
    breaker = make(FakeClock(), failure_threshold=2)
    assert await through(breaker, ok) == "ok"
    with pytest.raises(Boom):
        await through(breaker, boom)
    assert breaker.state is CLOSED
    with pytest.raises(Boom):
        await through(breaker, boom)
    assert breaker.state is OPEN


# -- OPEN ----------------------------------------------------------------------------------


async def test_open_rejects_with_retry_after_and_does_not_call() -> None:
    clock = FakeClock()
    breaker = make(clock, reset_timeout=30.0)
    trip(breaker)

    with pytest.raises(CircuitOpenError) as caught:
        breaker.allow()
    assert caught.value.name == "api"
    assert caught.value.retry_after == 30.0

    clock.advance(12.5)
    calls = 0

    async def counted() -> None:
        nonlocal calls
        calls += 1

    with pytest.raises(CircuitOpenError) as caught:
        async with breaker:
            await counted()
    assert caught.value.retry_after == 17.5
    assert calls == 0


def test_open_error_is_readable_and_picklable() -> None:
    error = CircuitOpenError("telegram", 4.25)
    assert "telegram" in str(error)
    assert "4.250" in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.name, copy.retry_after) == ("telegram", 4.25)
    assert CircuitOpenError("x", -1.0).retry_after == 0.0


def test_moves_to_half_open_exactly_at_reset_timeout() -> None:
    clock = FakeClock()
    breaker = make(clock, reset_timeout=30.0)
    trip(breaker)
    clock.advance(29.75)
    assert breaker.state is OPEN
    assert retry_after(breaker) == 0.25
    clock.advance(0.25)
    assert breaker.state is HALF_OPEN
    breaker.allow()


def test_outcomes_recorded_while_open_do_not_move_the_state() -> None:
    clock = FakeClock()
    breaker = make(clock)
    trip(breaker)
    clock.advance(10.0)
    breaker.record_failure()  # a slow call from before the trip: must not restart the timer
    breaker.record_success()
    assert breaker.state is OPEN
    assert retry_after(breaker) == 20.0
    clock.advance(20.0)
    assert breaker.state is HALF_OPEN


# -- HALF_OPEN -----------------------------------------------------------------------------


async def test_half_open_admits_only_max_concurrent_trials() -> None:
    clock = FakeClock()
    breaker = make(clock, half_open_max_calls=2, success_threshold=5)
    to_half_open(breaker, clock)

    first, second = Gate(), Gate()
    first_task = await start(breaker, first)
    second_task = await start(breaker, second)
    with pytest.raises(CircuitOpenError) as caught:
        await through(breaker, ok)
    assert caught.value.retry_after == 0.0  # no deadline: a slot frees when a trial ends

    first.release.set()
    assert await first_task == "done"
    third = Gate()
    third_task = await start(breaker, third)  # the freed slot is usable again
    with pytest.raises(CircuitOpenError):
        breaker.allow()

    second.release.set()
    third.release.set()
    assert list(await asyncio.gather(second_task, third_task)) == ["done", "done"]
    assert breaker.state is HALF_OPEN
    breaker.allow()
    breaker.record_success()
    assert breaker.state is HALF_OPEN  # 4 of 5: the three trials above each counted
    breaker.allow()
    breaker.record_success()
    assert breaker.state is CLOSED


async def test_half_open_allows_one_trial_by_default() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("api", failure_threshold=1, reset_timeout=5.0, clock=clock)
    breaker.record_failure()
    clock.advance(5.0)
    gate = Gate()
    task = await start(breaker, gate)
    with pytest.raises(CircuitOpenError):
        breaker.allow()
    gate.release.set()
    await task


def test_closes_after_success_threshold_successes() -> None:
    clock = FakeClock()
    breaker = make(clock, success_threshold=3)
    to_half_open(breaker, clock)
    for _ in range(2):
        breaker.allow()
        breaker.record_success()
    assert breaker.state is HALF_OPEN
    breaker.allow()
    breaker.record_success()
    assert breaker.state is CLOSED


def test_closed_again_needs_failure_threshold_fresh_failures() -> None:
    clock = FakeClock()
    breaker = make(clock, failure_threshold=3, success_threshold=1)
    to_half_open(breaker, clock)
    breaker.allow()
    breaker.record_success()
    assert breaker.state is CLOSED
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is CLOSED


def test_half_open_failure_reopens_and_restarts_the_timer() -> None:
    clock = FakeClock()
    breaker = make(clock, reset_timeout=30.0, success_threshold=3)
    to_half_open(breaker, clock)
    clock.advance(4.0)
    breaker.allow()
    breaker.record_success()  # earlier successes do not soften a later failure
    breaker.allow()
    breaker.record_failure()
    assert breaker.state is OPEN
    assert retry_after(breaker) == 30.0
    clock.advance(29.5)
    assert breaker.state is OPEN
    clock.advance(0.5)
    assert breaker.state is HALF_OPEN
    for _ in range(2):  # the success of the previous round is gone: three are needed again
        breaker.allow()
        breaker.record_success()
    assert breaker.state is HALF_OPEN
    breaker.allow()
    breaker.record_success()
    assert breaker.state is CLOSED


async def test_half_open_failure_through_async_with_reopens() -> None:
    clock = FakeClock()
    breaker = make(clock)
    to_half_open(breaker, clock)
    with pytest.raises(Boom):
        await through(breaker, boom)
    assert breaker.state is OPEN


# -- is_failure and cancellation -----------------------------------------------------------


async def test_non_failure_exception_counts_as_success_and_propagates() -> None:
    clock = FakeClock()
    breaker = make(
        clock,
        failure_threshold=2,
        success_threshold=2,
        is_failure=lambda exc: not isinstance(exc, BadRequest),
    )

    async def bad_request() -> str:
        raise BadRequest

    breaker.record_failure()
    with pytest.raises(BadRequest):
        await through(breaker, bad_request)
    breaker.record_failure()
    assert breaker.state is CLOSED  # the count was reset, as by a success

    breaker.record_failure()
    assert breaker.state is OPEN
    clock.advance(30.0)
    for _ in range(2):
        with pytest.raises(BadRequest):
            await through(breaker, bad_request)
    assert breaker.state is CLOSED  # two half-open "successes"


async def test_is_failure_sees_the_exception(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[BaseException] = []

    def judge(exc: BaseException) -> bool:
        seen.append(exc)
        return True

    breaker = make(FakeClock(), failure_threshold=1, is_failure=judge)
    error = Boom("secret token in message")
    with caplog.at_level(logging.WARNING, logger="utils.circuit_breaker"), pytest.raises(Boom):
        async with breaker:
            raise error
    assert seen == [error]
    [opened] = [r.getMessage() for r in caplog.records if "opened" in r.getMessage()]
    assert opened.endswith("last failure: Boom")  # the class only: messages may hold secrets


async def test_a_raising_is_failure_counts_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    def judge(exc: BaseException) -> bool:
        raise RuntimeError("bug in the predicate")

    breaker = make(FakeClock(), failure_threshold=1, is_failure=judge)
    with pytest.raises(Boom):
        await through(breaker, boom)
    assert breaker.state is OPEN
    assert any("is_failure raised" in r.getMessage() for r in caplog.records)


async def test_cancellation_releases_the_trial_slot_and_counts_nothing() -> None:
    clock = FakeClock()
    breaker = make(clock, success_threshold=1)
    to_half_open(breaker, clock)
    gate = Gate()
    task = await start(breaker, gate)
    with pytest.raises(CircuitOpenError):
        breaker.allow()

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # one success would have closed it, one failure re-opened it
    assert breaker.state is HALF_OPEN
    assert await through(breaker, ok) == "ok"  # the slot is free again
    assert breaker.state is CLOSED


async def test_cancellation_in_closed_state_is_not_a_failure() -> None:
    breaker = make(FakeClock(), failure_threshold=1)
    gate = Gate()
    task = await start(breaker, gate)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.state is CLOSED  # one failure would have opened it


# -- concurrency: outcomes that arrive after the state moved on ----------------------------


async def test_slow_call_from_closed_state_does_not_use_a_trial_slot() -> None:
    clock = FakeClock()
    breaker = make(clock, success_threshold=1)
    slow = Gate()
    slow_task = await start(breaker, slow)  # admitted while CLOSED
    trip(breaker)
    clock.advance(30.0)
    trial = Gate()
    trial_task = await start(breaker, trial)

    slow.release.set()
    assert await slow_task == "done"
    assert breaker.state is HALF_OPEN  # a success from before the trip proves nothing
    with pytest.raises(CircuitOpenError):
        breaker.allow()  # and it did not free the trial's slot

    trial.release.set()
    await trial_task
    assert breaker.state is CLOSED


async def test_late_trial_failure_after_reopen_does_not_restart_the_timer() -> None:
    clock = FakeClock()
    breaker = make(clock, half_open_max_calls=2)
    to_half_open(breaker, clock)
    slow = Gate(fail=Boom())
    slow_task = await start(breaker, slow)
    with pytest.raises(Boom):
        await through(breaker, boom)  # the other trial fails first: OPEN at START + 30
    clock.advance(10.0)
    slow.release.set()
    with pytest.raises(Boom):
        await slow_task
    assert retry_after(breaker) == 20.0  # still the first timer


async def test_trial_in_flight_across_a_reopen_never_holds_a_new_slot() -> None:
    clock = FakeClock()
    breaker = make(clock, half_open_max_calls=2, success_threshold=3)
    to_half_open(breaker, clock)
    slow = Gate()
    slow_task = await start(breaker, slow)
    with pytest.raises(Boom):
        await through(breaker, boom)  # re-opens while the slow trial is still in flight
    clock.advance(30.0)
    assert breaker.state is HALF_OPEN
    breaker.allow()
    breaker.allow()  # both slots are free for the new round
    with pytest.raises(CircuitOpenError):
        breaker.allow()

    slow.release.set()
    await slow_task  # a success from the previous round: frees nothing, counts nothing
    with pytest.raises(CircuitOpenError):
        breaker.allow()
    breaker.record_success()
    breaker.record_success()
    assert breaker.state is HALF_OPEN  # the new round's two, not three
    breaker.allow()
    breaker.record_success()
    assert breaker.state is CLOSED


async def test_concurrent_async_with_blocks_settle_their_own_calls() -> None:
    clock = FakeClock()
    breaker = make(clock, half_open_max_calls=2, success_threshold=2)
    slow, trial = Gate(), Gate()

    async def block(gate: Gate) -> str:
        async with breaker:
            return await gate()

    slow_task = asyncio.create_task(block(slow))
    await slow.entered.wait()  # admitted while CLOSED
    to_half_open(breaker, clock)
    trial_task = asyncio.create_task(block(trial))
    await trial.entered.wait()

    slow.release.set()  # exits first; must not settle the trial's ticket
    await slow_task
    assert breaker.state is HALF_OPEN  # it did not count as a success
    breaker.allow()  # one slot was free, the trial still holds the other
    with pytest.raises(CircuitOpenError):
        breaker.allow()
    trial.release.set()
    await trial_task
    assert breaker.state is HALF_OPEN  # the trial counted: one of two
    breaker.record_success()
    assert breaker.state is CLOSED


async def test_nested_blocks_in_one_task() -> None:
    breaker = make(FakeClock(), failure_threshold=2)
    with pytest.raises(Boom):
        async with breaker as entered:
            assert entered is breaker
            async with breaker:
                pass
            raise Boom
    assert breaker.state is CLOSED  # the inner block was a success, the outer one failure
    breaker.record_failure()
    assert breaker.state is OPEN


async def test_nested_blocks_settle_inner_first() -> None:
    clock = FakeClock()
    breaker = make(clock, success_threshold=2)
    async with breaker:  # admitted while CLOSED
        to_half_open(breaker, clock)
        async with breaker:  # the trial
            pass
    assert breaker.state is HALF_OPEN  # the outer block is stale: no second success
    breaker.allow()  # the trial freed its slot
    breaker.record_success()
    assert breaker.state is CLOSED


async def test_finished_blocks_leave_no_reference_to_their_task() -> None:
    breaker = make(FakeClock())

    async def block() -> None:
        async with breaker:
            pass

    task = asyncio.create_task(block())
    await task
    ref = weakref.ref(task)
    del task
    await asyncio.sleep(0)  # a yield, not a wait: the loop drops its handle on the finished task
    gc.collect()
    assert ref() is None


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("failure_threshold", 0),
        ("failure_threshold", -1),
        ("success_threshold", 0),
        ("half_open_max_calls", 0),
        ("reset_timeout", 0.0),
        ("reset_timeout", -5.0),
        ("reset_timeout", float("nan")),
    ],
)
def test_constructor_rejects_bad_arguments(argument: str, value: float) -> None:
    with pytest.raises(ValueError, match=argument):
        CircuitBreaker("api", **{argument: value})  # type: ignore[arg-type]


def test_constructor_accepts_the_smallest_valid_values() -> None:
    breaker = CircuitBreaker(
        "api",
        failure_threshold=1,
        success_threshold=1,
        half_open_max_calls=1,
        reset_timeout=0.001,
    )
    assert breaker.name == "api"
    assert breaker.state is CLOSED


def test_release_frees_a_half_open_trial_without_a_verdict() -> None:
    now = [0.0]
    breaker = CircuitBreaker(
        "db", failure_threshold=1, reset_timeout=10, half_open_max_calls=1, clock=lambda: now[0]
    )
    breaker.record_failure()
    now[0] = 10.0
    breaker.allow()  # the one trial
    with pytest.raises(CircuitOpenError):
        breaker.allow()
    breaker.release()  # e.g. the connect was cancelled
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.allow()  # the slot is free again


async def test_evidence_from_outside_closes_an_open_breaker_at_once() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("telegram", failure_threshold=1, reset_timeout=30, clock=clock)
    breaker.record_failure(Boom())
    assert breaker.state is OPEN
    with pytest.raises(CircuitOpenError):
        breaker.allow()
    clock.advance(1)  # long before the reset timeout: a long poll just answered
    breaker.record_evidence()
    assert breaker.state is CLOSED
    breaker.allow()  # the reply to what the poll brought goes through
    breaker.record_success()
    breaker.record_failure(Boom())  # and a dependency only partly back opens it again
    assert breaker.state is OPEN
