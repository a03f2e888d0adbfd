"""RecoveryManager: strategy choice, execution statuses, the concurrency cap and bounded memory."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pytest

from utils.recovery import (
    LEAVE_FOR_ADMIN_NOTE,
    Execution,
    ExecutionStatus,
    FunctionStrategy,
    RecoveryContext,
    RecoveryManager,
)

S = ExecutionStatus
GUARD = 1.0  # seconds; bounds awaits a broken manager could leave hanging, so tests fail instead


class FakeClock:
    def __init__(self, now: float = 10.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass(eq=False)
class Probe:
    """A strategy that records what it saw; fingerprints listed in gates wait for their Event."""

    name: str
    priority: int = 0
    timeout: float = 5.0
    handles: bool = True
    note: str | None = "done"
    error: Exception | None = None
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    active: int = 0
    peak: int = 0

    def can_handle(self, context: RecoveryContext) -> bool:
        return self.handles

    async def recover(self, context: RecoveryContext) -> str | None:
        self.started.append(context.fingerprint)
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            gate = self.gates.get(context.fingerprint)
            if gate is not None:
                await gate.wait()
            if self.error is not None:
                raise self.error
            return self.note
        except asyncio.CancelledError:
            self.cancelled.append(context.fingerprint)
            raise
        finally:
            self.active -= 1


@dataclass
class Broken:
    name: str = "broken"
    priority: int = 9
    timeout: float = 5.0

    def can_handle(self, context: RecoveryContext) -> bool:
        raise RuntimeError("predicate blew up")

    async def recover(self, context: RecoveryContext) -> str | None:
        raise AssertionError("never chosen")


class Category(StrEnum):
    NOTIFICATION = "notification"
    SYSTEM = "system"


def ctx(fingerprint: str = "fp", category: str = "transient") -> RecoveryContext:
    return RecoveryContext(category=category, fingerprint=fingerprint)


def gated(probe: Probe, *fingerprints: str) -> dict[str, asyncio.Event]:
    for fingerprint in fingerprints:
        probe.gates[fingerprint] = asyncio.Event()
    return probe.gates


async def until(condition: Callable[[], bool]) -> None:
    # Only yields to the loop (no sleeping), so a broken condition fails fast.
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


def statuses(executions: list[Execution]) -> list[ExecutionStatus]:
    return [execution.status for execution in executions]


def status(execution: Execution) -> ExecutionStatus:
    # A call, so mypy does not keep an earlier `is` narrowing of a status that has moved on.
    return execution.status


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make(clock: FakeClock) -> AsyncIterator[Callable[..., RecoveryManager]]:
    made: list[RecoveryManager] = []

    def factory(**kwargs: Any) -> RecoveryManager:
        kwargs.setdefault("clock", clock)
        manager = RecoveryManager(**kwargs)
        made.append(manager)
        return manager

    yield factory
    async with asyncio.timeout(GUARD):
        for manager in made:
            await manager.shutdown()


# --- choose -------------------------------------------------------------------------------


def test_choose_prefers_the_highest_priority() -> None:
    manager = RecoveryManager()
    low, high, mid = Probe("low", priority=1), Probe("high", priority=5), Probe("mid", priority=3)
    for strategy in (low, high, mid):
        manager.register(strategy)
    assert manager.choose(ctx()) is high
    assert manager.choose(ctx(category="anything")) is high


def test_choose_ties_go_to_the_earlier_registered() -> None:
    first, second = Probe("first", priority=2), Probe("second", priority=2)
    manager = RecoveryManager()
    manager.register(first)
    manager.register(second)
    assert manager.choose(ctx()) is first

    reversed_manager = RecoveryManager()
    reversed_manager.register(second)
    reversed_manager.register(first)
    assert reversed_manager.choose(ctx()) is second


def test_choose_only_considers_strategies_for_the_category() -> None:
    manager = RecoveryManager()
    system = Probe("system", priority=10)
    transient = Probe("transient", priority=1)
    anywhere = Probe("anywhere", priority=0)
    manager.register(system, ["system"])
    manager.register(transient, ("transient", "network"))
    manager.register(anywhere)
    assert manager.choose(ctx(category="transient")) is transient
    assert manager.choose(ctx(category="network")) is transient
    assert manager.choose(ctx(category="system")) is system
    assert manager.choose(ctx(category="notification")) is anywhere


def test_str_enum_categories_match_plain_strings_and_a_bare_string_is_one_category() -> None:
    manager = RecoveryManager()
    notify = Probe("notify")
    system = Probe("system")
    manager.register(notify, Category.NOTIFICATION)  # a bare member, not its characters
    manager.register(system, "system")
    assert manager.choose(ctx(category="notification")) is notify
    assert manager.choose(ctx(category=Category.SYSTEM)) is system
    assert manager.choose(ctx(category="n")) is manager.fallback
    assert manager.choose(ctx(category="s")) is manager.fallback


def test_choose_skips_strategies_that_cannot_handle() -> None:
    manager = RecoveryManager()
    picky = Probe("picky", priority=10, handles=False)
    willing = Probe("willing", priority=1)
    manager.register(picky)
    manager.register(willing)
    assert manager.choose(ctx()) is willing
    picky.handles = True
    assert manager.choose(ctx()) is picky


def test_function_strategy_predicate_filters() -> None:
    async def restart(context: RecoveryContext) -> str | None:
        return "restarted"

    manager = RecoveryManager()
    only_ref = FunctionStrategy(
        "only_ref", restart, priority=5, predicate=lambda context: context.reference is not None
    )
    manager.register(only_ref)
    assert manager.choose(ctx()) is manager.fallback
    with_ref = RecoveryContext(category="system", fingerprint="f", reference="ERR-1")
    assert manager.choose(with_ref) is only_ref


async def test_default_fallback_does_nothing_and_leaves_it_for_an_admin(
    make: Callable[..., RecoveryManager],
) -> None:
    manager = make()
    manager.register(Probe("system_only"), ["system"])
    chosen = manager.choose(ctx(category="transient"))
    assert chosen is manager.fallback
    execution = await manager.run(ctx(category="transient"))
    assert execution.strategy == chosen.name
    assert execution.status is S.COMPLETED
    assert execution.result == LEAVE_FOR_ADMIN_NOTE


async def test_custom_fallback_is_used_only_when_nothing_else_applies(
    make: Callable[..., RecoveryManager],
) -> None:
    manager = make()
    custom = Probe("custom", priority=100, note="paged the on-call admin")
    regular = Probe("regular", priority=1)
    manager.set_fallback(custom)
    manager.register(regular, ["system"])
    assert manager.choose(ctx(category="system")) is regular  # the fallback never competes
    assert manager.choose(ctx(category="transient")) is custom
    execution = await manager.run(ctx(category="transient"))
    assert (execution.strategy, execution.result) == ("custom", "paged the on-call admin")


async def test_raising_can_handle_counts_as_false_and_is_logged(
    make: Callable[..., RecoveryManager], caplog: pytest.LogCaptureFixture
) -> None:
    manager = make()
    manager.register(Broken())
    with caplog.at_level(logging.ERROR, logger="utils.recovery"):
        assert manager.choose(ctx()) is manager.fallback
        execution = await manager.run(ctx())  # nothing escapes submit either
    assert execution.status is S.COMPLETED
    records = [record for record in caplog.records if "broken" in record.getMessage()]
    assert records
    assert records[0].exc_info is not None

    fine = Probe("fine", priority=1)
    manager.register(fine)
    assert manager.choose(ctx()) is fine


def test_registering_the_same_name_replaces_it() -> None:
    manager = RecoveryManager()
    old = Probe("retry", priority=1, note="old")
    other = Probe("other", priority=1)
    new = Probe("retry", priority=1, note="new")
    manager.register(old, ["transient"])
    manager.register(other)
    manager.register(new, ["system"])
    assert [strategy.name for strategy in manager.strategies()] == ["retry", "other"]
    assert manager.choose(ctx(category="transient")) is other  # old scope is gone
    assert manager.choose(ctx(category="system")) is new  # keeps its place, so wins the tie
    assert manager.unregister("retry")
    assert not manager.unregister("retry")
    assert manager.choose(ctx(category="system")) is other


@pytest.mark.parametrize(
    ("strategy", "categories", "argument"),
    [
        (Probe("x"), [], "categories"),
        (Probe(""), None, "strategy.name"),
        (Probe("x", timeout=0), None, "strategy.timeout"),
        (Probe("x", timeout=-1), None, "strategy.timeout"),
        (Probe("x", timeout=math.inf), None, "strategy.timeout"),
        (Probe("x", timeout=math.nan), None, "strategy.timeout"),
        (Probe("x", priority="high"), None, "strategy.priority"),  # type: ignore[arg-type]
    ],
)
def test_register_validates(strategy: Probe, categories: list[str] | None, argument: str) -> None:
    manager = RecoveryManager()
    with pytest.raises(ValueError, match=argument):
        manager.register(strategy, categories)
    assert manager.strategies() == []


def test_set_fallback_validates() -> None:
    manager = RecoveryManager()
    with pytest.raises(ValueError, match=r"strategy\.timeout"):
        manager.set_fallback(Probe("bad", timeout=0))
    assert manager.fallback.name == "leave_for_admin"


# --- statuses -----------------------------------------------------------------------------


async def test_completed_keeps_the_note_and_clock_timestamps(
    make: Callable[..., RecoveryManager], clock: FakeClock
) -> None:
    manager = make()
    probe = Probe("retry", note="resent 3 messages")
    gate = gated(probe, "fp")["fp"]
    manager.register(probe)

    execution = manager.submit(ctx())
    assert status(execution) is S.PENDING  # submit records and returns at once
    assert execution.created_at == 10.0
    assert (execution.started_at, execution.finished_at) == (None, None)
    assert probe.started == []
    assert manager.get(execution.id) is execution

    clock.now = 20.0
    await until(lambda: execution.status is S.IN_PROGRESS)
    assert execution.started_at == 20.0
    clock.now = 30.0
    gate.set()
    finished = await manager.wait(execution.id)
    assert finished is execution
    assert execution.status is S.COMPLETED
    assert (execution.result, execution.error) == ("resent 3 messages", None)
    assert (execution.started_at, execution.finished_at) == (20.0, 30.0)
    assert execution.strategy == "retry"
    assert execution.done


async def test_failure_becomes_failed_with_the_error_text(
    make: Callable[..., RecoveryManager], caplog: pytest.LogCaptureFixture
) -> None:
    manager = make()
    probe = Probe("retry", error=ValueError("boom"))
    manager.register(probe)
    with caplog.at_level(logging.WARNING, logger="utils.recovery"):
        execution = await manager.run(ctx())
        submitted = manager.submit(ctx("second"))
        await manager.wait(submitted.id)  # the task itself never raises either
    assert execution.status is S.FAILED
    assert (execution.result, execution.error) == (None, "ValueError: boom")
    assert submitted.status is S.FAILED
    assert any(record.exc_info is not None for record in caplog.records)

    probe.error = RuntimeError()
    assert (await manager.run(ctx())).error == "RuntimeError"


async def test_a_strategy_that_outlives_its_timeout_is_timed_out(
    make: Callable[..., RecoveryManager],
) -> None:
    manager = make()
    probe = Probe("stuck", timeout=0.01)
    gated(probe, "fp")  # never set
    manager.register(probe)
    loop = asyncio.get_running_loop()
    began = loop.time()
    async with asyncio.timeout(GUARD):
        execution = await manager.run(ctx())
    assert loop.time() - began < 0.5
    assert execution.status is S.TIMED_OUT
    assert execution.error == "timed out after 0.01s"
    assert execution.result is None
    assert probe.cancelled == ["fp"]  # the strategy was actually stopped


async def test_a_strategy_swallowing_the_timeout_is_still_timed_out(
    make: Callable[..., RecoveryManager],
) -> None:
    async def stubborn(context: RecoveryContext) -> str | None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return "pretended to finish"
        return None

    manager = make()
    manager.register(FunctionStrategy("stubborn", stubborn, timeout=0.01))
    async with asyncio.timeout(GUARD):
        execution = await manager.run(ctx())
    assert execution.status is S.TIMED_OUT


async def test_a_strategys_own_timeout_error_is_a_failure(
    make: Callable[..., RecoveryManager],
) -> None:
    manager = make()
    manager.register(Probe("upstream", error=TimeoutError("upstream took too long")))
    execution = await manager.run(ctx())
    assert execution.status is S.FAILED
    assert execution.error == "TimeoutError: upstream took too long"


async def test_cancel_a_pending_execution(
    make: Callable[..., RecoveryManager], clock: FakeClock
) -> None:
    manager = make(max_concurrent=1)
    probe = Probe("retry")
    gate = gated(probe, "a")["a"]
    manager.register(probe)
    first = manager.submit(ctx("a"))
    second = manager.submit(ctx("b"))
    await until(lambda: first.status is S.IN_PROGRESS)
    assert status(second) is S.PENDING

    clock.now = 50.0
    assert manager.cancel(second.id)
    assert second.status is S.CANCELLED
    assert (second.error, second.finished_at, second.started_at) == ("cancelled", 50.0, None)
    assert not manager.cancel(second.id)

    third = manager.submit(ctx("c"))
    gate.set()
    assert (await manager.wait(third.id)).status is S.COMPLETED
    assert (await manager.wait(second.id)).status is S.CANCELLED
    assert first.status is S.COMPLETED
    assert probe.started == ["a", "c"]  # the cancelled one never ran


async def test_cancel_while_a_freed_slot_is_being_handed_over_passes_it_on(
    make: Callable[..., RecoveryManager],
) -> None:
    manager = make(max_concurrent=1)
    probe = Probe("retry")
    gate = gated(probe, "a")["a"]
    manager.register(probe)
    first, second, third = (manager.submit(ctx(name)) for name in "abc")
    await until(lambda: first.status is S.IN_PROGRESS)
    gate.set()
    await until(lambda: first.status is S.COMPLETED)
    assert status(second) is S.PENDING  # the slot is already its, but it has not resumed yet
    assert manager.cancel(second.id)
    async with asyncio.timeout(GUARD):
        assert (await manager.wait(third.id)).status is S.COMPLETED
    assert probe.started == ["a", "c"]


async def test_cancel_an_execution_in_progress(make: Callable[..., RecoveryManager]) -> None:
    manager = make(max_concurrent=1)
    probe = Probe("retry")
    gated(probe, "a")
    manager.register(probe)
    running = manager.submit(ctx("a"))
    waiting = manager.submit(ctx("b"))
    await until(lambda: running.status is S.IN_PROGRESS)

    assert manager.cancel(running.id)
    assert running.status is S.CANCELLED
    assert (await manager.wait(running.id)).status is S.CANCELLED
    assert probe.cancelled == ["a"]
    assert running.result is None
    assert (await manager.wait(waiting.id)).status is S.COMPLETED  # the slot was freed


async def test_cancel_immediately_after_submit(make: Callable[..., RecoveryManager]) -> None:
    manager = make()
    probe = Probe("retry")
    manager.register(probe)
    execution = manager.submit(ctx())
    assert manager.cancel(execution.id)
    assert (await manager.wait(execution.id)).status is S.CANCELLED
    assert probe.started == []
    assert manager.in_flight() == 0


async def test_cancel_unknown_or_finished_returns_false(
    make: Callable[..., RecoveryManager],
) -> None:
    manager = make()
    manager.register(Probe("retry"))
    execution = await manager.run(ctx())
    assert not manager.cancel(execution.id)
    assert execution.status is S.COMPLETED
    assert not manager.cancel(12345)


async def test_cancelling_the_caller_of_run_cancels_the_execution(
    make: Callable[..., RecoveryManager],
) -> None:
    manager = make()
    probe = Probe("retry")
    gated(probe, "a")
    manager.register(probe)
    caller = asyncio.create_task(manager.run(ctx("a")))
    await until(lambda: probe.started == ["a"])
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    (execution,) = manager.executions()
    assert execution.status is S.CANCELLED
    await manager.wait(execution.id)
    assert probe.cancelled == ["a"]


async def test_wait_for_an_unknown_execution_raises_key_error(
    make: Callable[..., RecoveryManager],
) -> None:
    manager = make()
    with pytest.raises(KeyError):
        await manager.wait(99)


# --- concurrency cap ----------------------------------------------------------------------


async def test_at_most_max_concurrent_run_and_the_rest_wait_in_fifo_order(
    make: Callable[..., RecoveryManager],
) -> None:
    manager = make(max_concurrent=2)
    probe = Probe("retry")
    gates = gated(probe, "a", "b", "c", "d", "e")
    manager.register(probe)
    a, b, c, d, e = (manager.submit(ctx(name)) for name in "abcde")

    await until(lambda: len(probe.started) == 2)
    for _ in range(20):
        await asyncio.sleep(0)  # give a broken cap every chance to start more
    assert statuses([a, b, c, d, e]) == [S.IN_PROGRESS] * 2 + [S.PENDING] * 3
    assert probe.started == ["a", "b"]
    assert manager.in_flight() == 5

    gates["b"].set()  # free the later slot first: the oldest pending (c) still goes next
    await until(lambda: len(probe.started) == 3)
    assert probe.started == ["a", "b", "c"]
    assert (
        statuses([a, b, c, d, e]) == [S.IN_PROGRESS, S.COMPLETED, S.IN_PROGRESS] + [S.PENDING] * 2
    )

    gates["c"].set()
    await until(lambda: len(probe.started) == 4)
    gates["a"].set()
    await until(lambda: len(probe.started) == 5)
    assert probe.started == ["a", "b", "c", "d", "e"]
    gates["d"].set()
    gates["e"].set()
    for execution in (a, b, c, d, e):
        assert (await manager.wait(execution.id)).status is S.COMPLETED
    assert probe.peak == 2
    assert manager.in_flight() == 0


async def test_run_respects_the_cap(make: Callable[..., RecoveryManager]) -> None:
    manager = make(max_concurrent=1)
    probe = Probe("retry")
    gate = gated(probe, "a")["a"]
    manager.register(probe)
    blocker = manager.submit(ctx("a"))
    caller = asyncio.create_task(manager.run(ctx("b")))
    await until(lambda: len(manager.executions()) == 2)
    for _ in range(20):
        await asyncio.sleep(0)
    queued = manager.executions()[0]
    assert status(queued) is S.PENDING
    assert probe.started == ["a"]
    gate.set()
    assert (await caller) is queued
    assert queued.status is S.COMPLETED
    assert blocker.status is S.COMPLETED


# --- memory, inspection, shutdown ---------------------------------------------------------


async def test_history_forgets_the_oldest_finished(make: Callable[..., RecoveryManager]) -> None:
    manager = make(history=2)
    manager.register(Probe("retry"))
    first, second, third = [await manager.run(ctx(name)) for name in "abc"]
    assert manager.get(first.id) is None
    assert [execution.id for execution in manager.executions()] == [third.id, second.id]
    assert manager.stats()["completed"] == 2
    with pytest.raises(KeyError):
        await manager.wait(first.id)
    assert (await manager.wait(second.id)) is second


async def test_history_never_drops_unfinished_executions(
    make: Callable[..., RecoveryManager],
) -> None:
    manager = make(history=1, max_concurrent=3)
    probe = Probe("retry")
    gate = gated(probe, "slow")["slow"]
    manager.register(probe)
    slow = manager.submit(ctx("slow"))
    quick = await manager.run(ctx("quick"))
    latest = await manager.run(ctx("latest"))
    assert manager.get(slow.id) is slow
    assert manager.get(quick.id) is None
    assert manager.get(latest.id) is latest

    gate.set()
    await manager.wait(slow.id)
    assert manager.get(slow.id) is slow  # forgetting goes by finish order
    assert manager.get(latest.id) is None


async def test_history_zero_keeps_nothing_finished(make: Callable[..., RecoveryManager]) -> None:
    manager = make(history=0)
    manager.register(Probe("retry"))
    execution = await manager.run(ctx())
    assert execution.status is S.COMPLETED
    assert manager.get(execution.id) is None
    assert manager.executions() == []


async def test_stats_in_flight_and_executions_by_status(
    make: Callable[..., RecoveryManager],
) -> None:
    manager = make(max_concurrent=2)
    probe = Probe("gated")
    gates = gated(probe, "g1", "g2", "g3", "g4")
    manager.register(probe, ["gated"])
    manager.register(Probe("ok"), ["ok"])
    manager.register(Probe("bad", error=OSError("disk")), ["bad"])
    manager.register(Probe("slow", timeout=0.01, gates={"s": asyncio.Event()}), ["slow"])

    assert manager.stats() == dict.fromkeys([status.value for status in S], 0)
    assert manager.in_flight() == 0

    completed = await manager.run(ctx("o", "ok"))
    failed = await manager.run(ctx("x", "bad"))
    async with asyncio.timeout(GUARD):
        timed_out = await manager.run(ctx("s", "slow"))
    in_progress = [manager.submit(ctx(name, "gated")) for name in ("g1", "g2")]
    pending = manager.submit(ctx("g3", "gated"))
    cancelled = manager.submit(ctx("g4", "gated"))
    assert manager.cancel(cancelled.id)
    await until(lambda: len(probe.started) == 2)

    assert manager.stats() == {
        "pending": 1,
        "in_progress": 2,
        "completed": 1,
        "failed": 1,
        "timed_out": 1,
        "cancelled": 1,
    }
    assert manager.in_flight() == 3
    assert manager.executions(S.PENDING) == [pending]
    assert manager.executions(S.IN_PROGRESS) == in_progress[::-1]
    assert manager.executions(S.FAILED) == [failed]
    everything = [completed, failed, timed_out, *in_progress, pending, cancelled]
    assert manager.executions() == everything[::-1]  # newest first

    for event in gates.values():
        event.set()
    await manager.wait(pending.id)
    assert manager.in_flight() == 0
    assert manager.stats()["completed"] == 4


async def test_shutdown_cancels_everything_and_leaves_nothing_running(
    make: Callable[..., RecoveryManager],
) -> None:
    manager = make(max_concurrent=1)
    probe = Probe("retry")
    gated(probe, "a", "b")
    manager.register(probe)
    running = manager.submit(ctx("a"))
    waiting = manager.submit(ctx("b"))
    await until(lambda: running.status is S.IN_PROGRESS)

    async with asyncio.timeout(GUARD):
        await manager.shutdown()
    assert statuses([running, waiting]) == [S.CANCELLED, S.CANCELLED]
    assert manager.in_flight() == 0
    assert probe.cancelled == ["a"]
    assert probe.started == ["a"]
    assert asyncio.all_tasks() == {asyncio.current_task()}
    with pytest.raises(RuntimeError, match="shut down"):
        manager.submit(ctx("late"))
    await manager.shutdown()  # idempotent


# --- construction -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"max_concurrent": 0}, "max_concurrent"),
        ({"max_concurrent": -3}, "max_concurrent"),
        ({"max_concurrent": 1.5}, "max_concurrent"),
        ({"max_concurrent": True}, "max_concurrent"),
        ({"history": -1}, "history"),
        ({"history": "500"}, "history"),
        ({"clock": 12.0}, "clock"),
    ],
)
def test_constructor_validates_its_arguments(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        RecoveryManager(**kwargs)


def test_constructor_defaults() -> None:
    manager = RecoveryManager()
    assert manager.max_concurrent == 10
    assert manager.fallback.name == "leave_for_admin"
    assert manager.executions() == []
