"""The circuit breaker's states, trial slots, listeners and registry, on a fake clock."""

from __future__ import annotations

import asyncio
import gc
import logging
import pickle
import weakref

import pytest

from utils.circuit_breaker import (
    BreakerRegistry,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
)

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


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, BreakerState, BreakerState]] = []

    def __call__(self, name: str, old: BreakerState, new: BreakerState) -> None:
        self.events.append((name, old, new))


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


async def start(breaker: CircuitBreaker, gate: Gate) -> asyncio.Task[str]:
    """Run gate through the breaker and return once the call is admitted and in flight."""
    task = asyncio.create_task(breaker.call(gate))
    await gate.entered.wait()
    return task


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
    assert breaker.snapshot()["consecutive_failures"] == 2
    breaker.record_failure()
    assert breaker.state is OPEN


async def test_call_counts_outcomes_and_returns_or_raises() -> None:
    breaker = make(FakeClock(), failure_threshold=2)
    assert await breaker.call(ok) == "ok"
    with pytest.raises(Boom):
        await breaker.call(boom)
    assert breaker.state is CLOSED
    with pytest.raises(Boom):
        await breaker.call(boom)
    assert breaker.state is OPEN


async def test_call_passes_arguments_through() -> None:
    async def add(a: int, b: int, *, scale: int) -> int:
        return (a + b) * scale

    breaker = make(FakeClock())
    assert await breaker.call(add, 1, 2, scale=10) == 30


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
        await breaker.call(counted)
    assert caught.value.retry_after == 17.5
    assert calls == 0
    with pytest.raises(CircuitOpenError):
        async with breaker:
            calls += 1
    assert calls == 0
    assert breaker.snapshot()["total_rejected"] == 3


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
    with pytest.raises(CircuitOpenError) as caught:
        breaker.allow()
    assert caught.value.retry_after == 0.25
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
    assert breaker.snapshot()["opened_at"] == START
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
        await breaker.call(ok)
    assert caught.value.retry_after == 0.0  # no deadline: a slot frees when a trial ends
    with pytest.raises(CircuitOpenError):
        breaker.allow()
    assert breaker.snapshot()["half_open_in_flight"] == 2

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
    assert breaker.snapshot()["half_open_successes"] == 3


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
    assert breaker.snapshot()["half_open_successes"] == 2
    breaker.allow()
    breaker.record_success()
    assert breaker.state is CLOSED
    snap = breaker.snapshot()
    assert snap["consecutive_failures"] == 0
    assert snap["half_open_successes"] == 0
    assert snap["opened_at"] is None


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
    snap = breaker.snapshot()
    assert snap["opened_at"] == START + 34.0
    assert snap["retry_after"] == 30.0
    assert snap["times_opened"] == 2
    clock.advance(29.5)
    assert breaker.state is OPEN
    clock.advance(0.5)
    assert breaker.state is HALF_OPEN
    assert breaker.snapshot()["half_open_successes"] == 0


async def test_half_open_failure_through_call_reopens() -> None:
    clock = FakeClock()
    breaker = make(clock)
    to_half_open(breaker, clock)
    with pytest.raises(Boom):
        await breaker.call(boom)
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

    async def bad_request() -> None:
        raise BadRequest

    breaker.record_failure()
    with pytest.raises(BadRequest):
        await breaker.call(bad_request)
    assert breaker.snapshot()["consecutive_failures"] == 0  # reset, as by a success
    breaker.record_failure()
    assert breaker.state is CLOSED

    breaker.record_failure()
    clock.advance(30.0)
    with pytest.raises(BadRequest):
        async with breaker:
            raise BadRequest
    with pytest.raises(BadRequest):
        await breaker.call(bad_request)
    assert breaker.state is CLOSED  # two half-open "successes"
    snap = breaker.snapshot()
    assert (snap["total_successes"], snap["total_failures"]) == (3, 3)


async def test_is_failure_sees_the_exception() -> None:
    seen: list[BaseException] = []

    def judge(exc: BaseException) -> bool:
        seen.append(exc)
        return True

    breaker = make(FakeClock(), is_failure=judge)
    error = Boom("x")
    with pytest.raises(Boom):
        async with breaker:
            raise error
    assert seen == [error]
    assert breaker.snapshot()["last_failure"] == "Boom"


async def test_a_raising_is_failure_counts_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    def judge(exc: BaseException) -> bool:
        raise RuntimeError("bug in the predicate")

    breaker = make(FakeClock(), failure_threshold=1, is_failure=judge)
    with pytest.raises(Boom):
        await breaker.call(boom)
    assert breaker.state is OPEN
    assert any("is_failure raised" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("style", ["call", "async_with"])
async def test_cancellation_releases_the_trial_slot_and_counts_nothing(style: str) -> None:
    clock = FakeClock()
    breaker = make(clock, success_threshold=1)
    to_half_open(breaker, clock)
    before = breaker.snapshot()

    gate = Gate()
    if style == "call":
        task = await start(breaker, gate)
    else:

        async def block() -> str:
            async with breaker:
                return await gate()

        task = asyncio.create_task(block())
        await gate.entered.wait()
    with pytest.raises(CircuitOpenError):
        breaker.allow()

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    after = breaker.snapshot()
    assert after["state"] == "half_open"
    assert after["half_open_in_flight"] == 0
    for key in ("half_open_successes", "total_successes", "total_failures", "times_opened"):
        assert after[key] == before[key]

    assert await breaker.call(ok) == "ok"  # the slot is free again
    assert breaker.state is CLOSED


async def test_cancellation_in_closed_state_is_not_a_failure() -> None:
    breaker = make(FakeClock(), failure_threshold=1)
    gate = Gate()
    task = await start(breaker, gate)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.state is CLOSED
    assert breaker.snapshot()["total_failures"] == 0


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
        await breaker.call(boom)  # the other trial fails first: OPEN at START + 30
    clock.advance(10.0)
    slow.release.set()
    with pytest.raises(Boom):
        await slow_task
    snap = breaker.snapshot()
    assert snap["opened_at"] == START + 30.0
    assert snap["times_opened"] == 2
    assert snap["total_failures"] == 5


async def test_trial_in_flight_across_a_reopen_never_holds_a_new_slot() -> None:
    clock = FakeClock()
    breaker = make(clock, half_open_max_calls=2, success_threshold=3)
    to_half_open(breaker, clock)
    slow = Gate()
    slow_task = await start(breaker, slow)
    with pytest.raises(Boom):
        await breaker.call(boom)  # re-opens while the slow trial is still in flight
    clock.advance(30.0)
    assert breaker.state is HALF_OPEN
    assert breaker.snapshot()["half_open_in_flight"] == 0
    breaker.allow()
    breaker.allow()  # both slots are free for the new round
    with pytest.raises(CircuitOpenError):
        breaker.allow()

    slow.release.set()
    await slow_task  # a success from the previous round: frees nothing, counts nothing
    snap = breaker.snapshot()
    assert (snap["half_open_in_flight"], snap["half_open_successes"]) == (2, 0)


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
    assert breaker.snapshot()["half_open_in_flight"] == 1
    assert breaker.snapshot()["half_open_successes"] == 0
    trial.release.set()
    await trial_task
    assert breaker.snapshot()["half_open_successes"] == 1


async def test_nested_blocks_in_one_task() -> None:
    breaker = make(FakeClock(), failure_threshold=2)
    with pytest.raises(Boom):
        async with breaker as entered:
            assert entered is breaker
            async with breaker:
                pass
            raise Boom
    snap = breaker.snapshot()
    assert (snap["total_successes"], snap["total_failures"]) == (1, 1)


async def test_nested_blocks_settle_inner_first() -> None:
    clock = FakeClock()
    breaker = make(clock, success_threshold=2)
    async with breaker:  # admitted while CLOSED
        to_half_open(breaker, clock)
        async with breaker:  # the trial
            pass
        snap = breaker.snapshot()
        assert (snap["half_open_in_flight"], snap["half_open_successes"]) == (0, 1)
    assert breaker.snapshot()["half_open_successes"] == 1  # the outer block is stale


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


# -- listeners -----------------------------------------------------------------------------


async def test_listeners_see_every_transition_in_order() -> None:
    clock = FakeClock()
    breaker = make(clock, success_threshold=1)
    recorder = Recorder()
    breaker.add_listener(recorder)

    trip(breaker)  # CLOSED -> OPEN
    clock.advance(30.0)
    with pytest.raises(Boom):
        await breaker.call(boom)  # OPEN -> HALF_OPEN -> OPEN
    clock.advance(30.0)
    await breaker.call(ok)  # OPEN -> HALF_OPEN -> CLOSED
    trip(breaker)
    breaker.reset()  # OPEN -> CLOSED
    breaker.reset()  # already CLOSED: no event

    assert recorder.events == [
        ("api", CLOSED, OPEN),
        ("api", OPEN, HALF_OPEN),
        ("api", HALF_OPEN, OPEN),
        ("api", OPEN, HALF_OPEN),
        ("api", HALF_OPEN, CLOSED),
        ("api", CLOSED, OPEN),
        ("api", OPEN, CLOSED),
    ]


def test_listener_sees_the_new_state_already_in_place() -> None:
    clock = FakeClock()
    breaker = make(clock)
    seen: list[object] = []
    breaker.add_listener(lambda name, old, new: seen.append(breaker.snapshot()["state"]))
    trip(breaker)
    assert seen == ["open"]


def test_a_raising_listener_does_not_break_the_breaker(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    breaker = make(clock)

    def broken(name: str, old: BreakerState, new: BreakerState) -> None:
        raise RuntimeError("listener bug")

    recorder = Recorder()
    breaker.add_listener(broken)
    breaker.add_listener(recorder)

    with caplog.at_level(logging.ERROR, logger="utils.circuit_breaker"):
        trip(breaker)
        clock.advance(30.0)
        breaker.allow()
        breaker.record_success()
        breaker.allow()
        breaker.record_success()

    assert breaker.state is CLOSED
    assert [(old, new) for _, old, new in recorder.events] == [
        (CLOSED, OPEN),
        (OPEN, HALF_OPEN),
        (HALF_OPEN, CLOSED),
    ]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 3
    assert all(r.name == "utils.circuit_breaker" and r.exc_info for r in errors)
    assert isinstance(errors[0].exc_info[1], RuntimeError)  # type: ignore[index]


# -- snapshot and reset --------------------------------------------------------------------


def test_snapshot_contents() -> None:
    clock = FakeClock()
    breaker = make(clock, failure_threshold=2, success_threshold=2)
    assert breaker.snapshot() == {
        "name": "api",
        "state": "closed",
        "consecutive_failures": 0,
        "half_open_successes": 0,
        "half_open_in_flight": 0,
        "opened_at": None,
        "retry_after": 0.0,
        "total_failures": 0,
        "total_successes": 0,
        "total_rejected": 0,
        "times_opened": 0,
        "last_failure": None,
    }

    breaker.record_success()
    breaker.record_failure(Boom("secret token in message"))
    breaker.record_failure(ValueError())
    clock.advance(10.0)
    with pytest.raises(CircuitOpenError):
        breaker.allow()
    assert breaker.snapshot() == {
        "name": "api",
        "state": "open",
        "consecutive_failures": 2,
        "half_open_successes": 0,
        "half_open_in_flight": 0,
        "opened_at": START,
        "retry_after": 20.0,
        "total_failures": 2,
        "total_successes": 1,
        "total_rejected": 1,
        "times_opened": 1,
        "last_failure": "ValueError",
    }

    clock.advance(20.0)
    breaker.allow()
    breaker.record_success()
    breaker.allow()
    snap = breaker.snapshot()
    assert snap["state"] == "half_open"
    assert snap["half_open_successes"] == 1
    assert snap["half_open_in_flight"] == 1
    assert snap["retry_after"] == 0.0
    assert snap["opened_at"] == START


def test_snapshot_reports_a_due_half_open() -> None:
    clock = FakeClock()
    breaker = make(clock)
    trip(breaker)
    clock.advance(30.0)
    snap = breaker.snapshot()
    assert (snap["state"], snap["retry_after"]) == ("half_open", 0.0)


async def test_reset_forces_closed_and_ignores_calls_from_before() -> None:
    clock = FakeClock()
    breaker = make(clock, half_open_max_calls=1)
    recorder = Recorder()
    breaker.add_listener(recorder)
    to_half_open(breaker, clock)
    trial = Gate(fail=Boom())
    trial_task = await start(breaker, trial)

    breaker.reset()
    assert breaker.state is CLOSED
    assert recorder.events[-1] == ("api", HALF_OPEN, CLOSED)
    snap = breaker.snapshot()
    assert (snap["consecutive_failures"], snap["opened_at"]) == (0, None)

    trial.release.set()
    with pytest.raises(Boom):
        await trial_task
    assert breaker.snapshot()["consecutive_failures"] == 0  # the old trial is stale


def test_reset_when_closed_clears_failures_without_notifying() -> None:
    breaker = make(FakeClock(), failure_threshold=3)
    recorder = Recorder()
    breaker.add_listener(recorder)
    breaker.record_failure()
    breaker.record_failure()
    breaker.reset()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state is CLOSED
    assert recorder.events == []


# -- registry ------------------------------------------------------------------------------


def test_registry_returns_one_breaker_per_name_with_separate_state() -> None:
    clock = FakeClock()
    registry = BreakerRegistry(clock=clock, failure_threshold=2, reset_timeout=10.0)
    telegram = registry.get("telegram")
    assert registry.get("telegram") is telegram
    database = registry.get("database")
    assert database is not telegram
    assert registry.all() == [telegram, database]

    telegram.record_failure()
    telegram.record_failure()
    assert telegram.state is OPEN
    assert database.state is CLOSED
    assert telegram.failure_threshold == 2
    clock.advance(10.0)  # the registry's clock reaches its breakers
    assert telegram.state is HALF_OPEN


def test_registry_overrides_apply_on_creation_and_must_match_later() -> None:
    registry = BreakerRegistry(clock=FakeClock(), failure_threshold=2)
    redis = registry.get("redis", failure_threshold=7, reset_timeout=5.0)
    assert (redis.failure_threshold, redis.reset_timeout, redis.success_threshold) == (7, 5.0, 3)
    assert registry.get("redis", failure_threshold=7) is redis
    assert registry.get("redis", success_threshold=3) is redis  # the class default, unchanged
    with pytest.raises(ValueError, match="failure_threshold"):
        registry.get("redis", failure_threshold=2)
    with pytest.raises(TypeError, match="failure_treshold"):
        registry.get("redis", failure_treshold=7)


def test_registry_listeners_reach_existing_and_future_breakers() -> None:
    registry = BreakerRegistry(clock=FakeClock(), failure_threshold=1)
    early = registry.get("early")
    recorder = Recorder()
    registry.add_listener(recorder)
    late = registry.get("late")
    early.record_failure()
    late.record_failure()
    assert recorder.events == [("early", CLOSED, OPEN), ("late", CLOSED, OPEN)]


def test_registry_validates_defaults_up_front() -> None:
    with pytest.raises(ValueError, match="reset_timeout"):
        BreakerRegistry(reset_timeout=0)
    with pytest.raises(TypeError):
        BreakerRegistry(failure_treshold=3)


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
