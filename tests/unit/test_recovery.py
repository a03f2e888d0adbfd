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
FALLBACK = "leave_for_admin"
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


def chosen(manager: RecoveryManager, context: RecoveryContext) -> str:
    """The name of the strategy submit() picks for context."""
    return manager.submit(context).strategy


async def run(manager: RecoveryManager, context: RecoveryContext) -> Execution:
    return await manager.wait(manager.submit(context).id)


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


# --- choice --------------------------------------------------------------------------------


async def test_the_highest_priority_is_chosen(make: Callable[..., RecoveryManager]) -> None:
    manager = make()
    low, high, mid = Probe("low", priority=1), Probe("high", priority=5), Probe("mid", priority=3)
    for strategy in (low, high, mid):
        manager.register(strategy)
    assert chosen(manager, ctx()) == "high"
    assert chosen(manager, ctx(category="anything")) == "high"


async def test_ties_go_to_the_earlier_registered(make: Callable[..., RecoveryManager]) -> None:
    first, second = Probe("first", priority=2), Probe("second", priority=2)
    manager = make()
    manager.register(first)
    manager.register(second)
    assert chosen(manager, ctx()) == "first"

    reversed_manager = make()
    reversed_manager.register(second)
    reversed_manager.register(first)
    assert chosen(reversed_manager, ctx()) == "second"


async def test_only_strategies_for_the_category_are_considered(
    make: Callable[..., RecoveryManager],
) -> None:
    manager = make()
    manager.register(Probe("system", priority=10), ["system"])
    manager.register(Probe("transient", priority=1), ("transient", "network"))
    manager.register(Probe("anywhere", priority=0))
    assert chosen(manager, ctx(category="transient")) == "transient"
    assert chosen(manager, ctx(category="network")) == "transient"
    assert chosen(manager, ctx(category="system")) == "system"
    assert chosen(manager, ctx(category="notification")) == "anywhere"


async def test_str_enum_categories_match_plain_strings_and_a_bare_string_is_one_category(
    make: Callable[..., RecoveryManager],
) -> None:
    manager = make()
    manager.register(Probe("notify"), Category.NOTIFICATION)  # a bare member, not its characters
    manager.register(Probe("system"), "system")
    assert chosen(manager, ctx(category="notification")) == "notify"
    assert chosen(manager, ctx(category=Category.SYSTEM)) == "system"
    assert chosen(manager, ctx(category="n")) == FALLBACK
    assert chosen(manager, ctx(category="s")) == FALLBACK


async def test_strategies_that_cannot_handle_are_skipped(
    make: Callable[..., RecoveryManager],
) -> None:
    manager = make()
    picky = Probe("picky", priority=10, handles=False)
    manager.register(picky)
    manager.register(Probe("willing", priority=1))
    assert chosen(manager, ctx()) == "willing"
    picky.handles = True
    assert chosen(manager, ctx()) == "picky"


async def test_function_strategy_predicate_filters(make: Callable[..., RecoveryManager]) -> None:
    async def restart(context: RecoveryContext) -> str | None:
        return "restarted"

    manager = make()
    only_ref = FunctionStrategy(
        "only_ref", restart, priority=5, predicate=lambda context: context.reference is not None
    )
    manager.register(only_ref)
    assert chosen(manager, ctx()) == FALLBACK
    with_ref = RecoveryContext(category="system", fingerprint="f", reference="ERR-1")
    execution = await run(manager, with_ref)
    assert (execution.strategy, execution.result) == ("only_ref", "restarted")


async def test_default_fallback_does_nothing_and_leaves_it_for_an_admin(
    make: Callable[..., RecoveryManager],
) -> None:
    manager = make()
    manager.register(Probe("system_only"), ["system"])
    execution = await run(manager, ctx(category="transient"))
    assert execution.strategy == FALLBACK
    assert execution.status is S.COMPLETED
    assert execution.result == LEAVE_FOR_ADMIN_NOTE


async def test_raising_can_handle_counts_as_false_and_is_logged(
    make: Callable[..., RecoveryManager], caplog: pytest.LogCaptureFixture
) -> None:
    manager = make()
    manager.register(Broken())
    with caplog.at_level(logging.ERROR, logger="utils.recovery"):
        execution = await run(manager, ctx())  # nothing escapes submit
    assert (execution.strategy, execution.status) == (FALLBACK, S.COMPLETED)
    records = [record for record in caplog.records if "broken" in record.getMessage()]
    assert records
    assert records[0].exc_info is not None

    manager.register(Probe("fine", priority=1))
    assert chosen(manager, ctx()) == "fine"


async def test_registering_the_same_name_replaces_it(make: Callable[..., RecoveryManager]) -> None:
    manager = make()
    manager.register(Probe("retry", priority=1, note="old"), ["transient"])
    manager.register(Probe("other", priority=1))
    manager.register(Probe("retry", priority=1, note="new"), ["system"])
    assert chosen(manager, ctx(category="transient")) == "other"  # old scope is gone
    execution = await run(manager, ctx(category="system"))  # keeps its place, so wins the tie
    assert (execution.strategy, execution.result) == ("retry", "new")


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
async def test_register_validates(
    make: Callable[..., RecoveryManager],
    strategy: Probe,
    categories: list[str] | None,
    argument: str,
) -> None:
    manager = make()
    with pytest.raises(ValueError, match=argument):
        manager.register(strategy, categories)
    assert chosen(manager, ctx()) == FALLBACK  # nothing was registered


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
    assert manager.executions() == [execution]

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
        execution = await run(manager, ctx())  # wait() never raises the strategy's error
    assert execution.status is S.FAILED
    assert (execution.result, execution.error) == (None, "ValueError: boom")
    assert any(record.exc_info is not None for record in caplog.records)

    probe.error = RuntimeError()
    assert (await run(manager, ctx())).error == "RuntimeError"


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
        execution = await run(manager, ctx())
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
        execution = await run(manager, ctx())
    assert execution.status is S.TIMED_OUT


async def test_a_strategys_own_timeout_error_is_a_failure(
    make: Callable[..., RecoveryManager],
) -> None:
    manager = make()
    manager.register(Probe("upstream", error=TimeoutError("upstream took too long")))
    execution = await run(manager, ctx())
    assert execution.status is S.FAILED
    assert execution.error == "TimeoutError: upstream took too long"


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


# --- memory, inspection, shutdown ---------------------------------------------------------


async def test_history_forgets_the_oldest_finished(make: Callable[..., RecoveryManager]) -> None:
    manager = make(history=2)
    manager.register(Probe("retry"))
    first, second, third = [await run(manager, ctx(name)) for name in "abc"]
    assert manager.executions() == [third, second]
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
    await run(manager, ctx("quick"))
    latest = await run(manager, ctx("latest"))
    assert manager.executions() == [latest, slow]

    gate.set()
    await manager.wait(slow.id)
    assert manager.executions() == [slow]  # forgetting goes by finish order


async def test_history_zero_keeps_nothing_finished(make: Callable[..., RecoveryManager]) -> None:
    manager = make(history=0)
    manager.register(Probe("retry"))
    execution = await run(manager, ctx())
    assert execution.status is S.COMPLETED
    assert manager.executions() == []


async def test_in_flight_and_executions(make: Callable[..., RecoveryManager]) -> None:
    manager = make(max_concurrent=2)
    probe = Probe("gated")
    gates = gated(probe, "g1", "g2", "g3")
    manager.register(probe, ["gated"])
    manager.register(Probe("ok"), ["ok"])
    manager.register(Probe("bad", error=OSError("disk")), ["bad"])
    manager.register(Probe("slow", timeout=0.01, gates={"s": asyncio.Event()}), ["slow"])
    assert manager.in_flight() == 0
    assert manager.executions() == []

    completed = await run(manager, ctx("o", "ok"))
    failed = await run(manager, ctx("x", "bad"))
    async with asyncio.timeout(GUARD):
        timed_out = await run(manager, ctx("s", "slow"))
    in_progress = [manager.submit(ctx(name, "gated")) for name in ("g1", "g2")]
    pending = manager.submit(ctx("g3", "gated"))
    await until(lambda: len(probe.started) == 2)

    everything = [completed, failed, timed_out, *in_progress, pending]
    assert manager.executions() == everything[::-1]  # newest first
    assert statuses(everything) == [S.COMPLETED, S.FAILED, S.TIMED_OUT] + [S.IN_PROGRESS] * 2 + [
        S.PENDING
    ]
    assert manager.in_flight() == 3

    for event in gates.values():
        event.set()
    await manager.wait(pending.id)
    assert manager.in_flight() == 0


async def test_shutdown_cancels_everything_and_leaves_nothing_running(
    make: Callable[..., RecoveryManager], clock: FakeClock
) -> None:
    manager = make(max_concurrent=1)
    probe = Probe("retry")
    gated(probe, "a", "b")
    manager.register(probe)
    running = manager.submit(ctx("a"))
    waiting = manager.submit(ctx("b"))
    await until(lambda: running.status is S.IN_PROGRESS)
    just_submitted = manager.submit(ctx("c"))  # its task has not even started

    clock.now = 50.0
    async with asyncio.timeout(GUARD):
        await manager.shutdown()
    assert statuses([running, waiting, just_submitted]) == [S.CANCELLED] * 3
    assert (running.error, running.result, running.finished_at) == ("cancelled", None, 50.0)
    assert (waiting.started_at, waiting.finished_at) == (None, 50.0)
    assert manager.in_flight() == 0
    assert probe.cancelled == ["a"]
    assert probe.started == ["a"]  # the waiting ones never ran
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
