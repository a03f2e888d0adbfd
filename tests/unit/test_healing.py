"""Healer: strategy choice, execution statuses, the concurrency cap and bounded memory."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pytest

from utils.healing import (
    LEAVE_FOR_ADMIN_NOTE,
    Execution,
    ExecutionStatus,
    FunctionStrategy,
    Healer,
    HealingContext,
)

S = ExecutionStatus
FALLBACK = "leave_for_admin"
GUARD = 1.0  # seconds; bounds awaits a broken healer could leave hanging, so tests fail instead


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

    def can_handle(self, context: HealingContext) -> bool:
        return self.handles

    async def heal(self, context: HealingContext) -> str | None:
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

    def can_handle(self, context: HealingContext) -> bool:
        raise RuntimeError("predicate blew up")

    async def heal(self, context: HealingContext) -> str | None:
        raise AssertionError("never chosen")


class Category(StrEnum):
    NOTIFICATION = "notification"
    SYSTEM = "system"


def ctx(fingerprint: str = "fp", category: str = "transient") -> HealingContext:
    return HealingContext(category=category, fingerprint=fingerprint)


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


def chosen(healer: Healer, context: HealingContext) -> str:
    """The name of the strategy submit() picks for context."""
    return healer.submit(context).strategy


async def run(healer: Healer, context: HealingContext) -> Execution:
    return await healer.wait(healer.submit(context).id)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make(clock: FakeClock) -> AsyncIterator[Callable[..., Healer]]:
    made: list[Healer] = []

    def factory(**kwargs: Any) -> Healer:
        kwargs.setdefault("clock", clock)
        healer = Healer(**kwargs)
        made.append(healer)
        return healer

    yield factory
    async with asyncio.timeout(GUARD):
        for healer in made:
            await healer.shutdown()


# --- choice --------------------------------------------------------------------------------


async def test_the_highest_priority_is_chosen(make: Callable[..., Healer]) -> None:
    healer = make()
    low, high, mid = Probe("low", priority=1), Probe("high", priority=5), Probe("mid", priority=3)
    for strategy in (low, high, mid):
        healer.register(strategy)
    assert chosen(healer, ctx()) == "high"
    assert chosen(healer, ctx(category="anything")) == "high"


async def test_ties_go_to_the_earlier_registered(make: Callable[..., Healer]) -> None:
    first, second = Probe("first", priority=2), Probe("second", priority=2)
    healer = make()
    healer.register(first)
    healer.register(second)
    assert chosen(healer, ctx()) == "first"

    reversed_healer = make()
    reversed_healer.register(second)
    reversed_healer.register(first)
    assert chosen(reversed_healer, ctx()) == "second"


async def test_only_strategies_for_the_category_are_considered(
    make: Callable[..., Healer],
) -> None:
    healer = make()
    healer.register(Probe("system", priority=10), ["system"])
    healer.register(Probe("transient", priority=1), ("transient", "network"))
    healer.register(Probe("anywhere", priority=0))
    assert chosen(healer, ctx(category="transient")) == "transient"
    assert chosen(healer, ctx(category="network")) == "transient"
    assert chosen(healer, ctx(category="system")) == "system"
    assert chosen(healer, ctx(category="notification")) == "anywhere"


async def test_str_enum_categories_match_plain_strings_and_a_bare_string_is_one_category(
    make: Callable[..., Healer],
) -> None:
    healer = make()
    healer.register(Probe("notify"), Category.NOTIFICATION)  # a bare member, not its characters
    healer.register(Probe("system"), "system")
    assert chosen(healer, ctx(category="notification")) == "notify"
    assert chosen(healer, ctx(category=Category.SYSTEM)) == "system"
    assert chosen(healer, ctx(category="n")) == FALLBACK
    assert chosen(healer, ctx(category="s")) == FALLBACK


async def test_strategies_that_cannot_handle_are_skipped(
    make: Callable[..., Healer],
) -> None:
    healer = make()
    picky = Probe("picky", priority=10, handles=False)
    healer.register(picky)
    healer.register(Probe("willing", priority=1))
    assert chosen(healer, ctx()) == "willing"
    picky.handles = True
    assert chosen(healer, ctx()) == "picky"


async def test_function_strategy_predicate_filters(make: Callable[..., Healer]) -> None:
    async def restart(context: HealingContext) -> str | None:
        return "restarted"

    healer = make()
    only_ref = FunctionStrategy(
        "only_ref", restart, priority=5, predicate=lambda context: context.reference is not None
    )
    healer.register(only_ref)
    assert chosen(healer, ctx()) == FALLBACK
    with_ref = HealingContext(category="system", fingerprint="f", reference="ERR-1")
    execution = await run(healer, with_ref)
    assert (execution.strategy, execution.result) == ("only_ref", "restarted")


async def test_default_fallback_does_nothing_and_leaves_it_for_an_admin(
    make: Callable[..., Healer],
) -> None:
    healer = make()
    healer.register(Probe("system_only"), ["system"])
    execution = await run(healer, ctx(category="transient"))
    assert execution.strategy == FALLBACK
    assert execution.status is S.COMPLETED
    assert execution.result == LEAVE_FOR_ADMIN_NOTE


async def test_raising_can_handle_counts_as_false_and_is_logged(
    make: Callable[..., Healer], caplog: pytest.LogCaptureFixture
) -> None:
    healer = make()
    healer.register(Broken())
    with caplog.at_level(logging.ERROR, logger="utils.healing"):
        execution = await run(healer, ctx())  # nothing escapes submit
    assert (execution.strategy, execution.status) == (FALLBACK, S.COMPLETED)
    records = [record for record in caplog.records if "broken" in record.getMessage()]
    assert records
    assert records[0].exc_info is not None

    healer.register(Probe("fine", priority=1))
    assert chosen(healer, ctx()) == "fine"


async def test_registering_the_same_name_replaces_it(make: Callable[..., Healer]) -> None:
    healer = make()
    healer.register(Probe("retry", priority=1, note="old"), ["transient"])
    healer.register(Probe("other", priority=1))
    healer.register(Probe("retry", priority=1, note="new"), ["system"])
    assert chosen(healer, ctx(category="transient")) == "other"  # old scope is gone
    execution = await run(healer, ctx(category="system"))  # keeps its place, so wins the tie
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
    make: Callable[..., Healer],
    strategy: Probe,
    categories: list[str] | None,
    argument: str,
) -> None:
    healer = make()
    with pytest.raises(ValueError, match=argument):
        healer.register(strategy, categories)
    assert chosen(healer, ctx()) == FALLBACK  # nothing was registered


# --- statuses -----------------------------------------------------------------------------


async def test_completed_keeps_the_note_and_clock_timestamps(
    make: Callable[..., Healer], clock: FakeClock
) -> None:
    healer = make()
    probe = Probe("retry", note="resent 3 messages")
    gate = gated(probe, "fp")["fp"]
    healer.register(probe)

    execution = healer.submit(ctx())
    assert status(execution) is S.PENDING  # submit records and returns at once
    assert execution.created_at == 10.0
    assert (execution.started_at, execution.finished_at) == (None, None)
    assert probe.started == []
    assert healer.executions() == [execution]

    clock.now = 20.0
    await until(lambda: execution.status is S.IN_PROGRESS)
    assert execution.started_at == 20.0
    clock.now = 30.0
    gate.set()
    finished = await healer.wait(execution.id)
    assert finished is execution
    assert execution.status is S.COMPLETED
    assert (execution.result, execution.error) == ("resent 3 messages", None)
    assert (execution.started_at, execution.finished_at) == (20.0, 30.0)
    assert execution.strategy == "retry"
    assert execution.done


async def test_failure_becomes_failed_with_the_error_text(
    make: Callable[..., Healer], caplog: pytest.LogCaptureFixture
) -> None:
    healer = make()
    probe = Probe("retry", error=ValueError("boom"))
    healer.register(probe)
    with caplog.at_level(logging.WARNING, logger="utils.healing"):
        execution = await run(healer, ctx())  # wait() never raises the strategy's error
    assert execution.status is S.FAILED
    assert (execution.result, execution.error) == (None, "ValueError: boom")
    assert any(record.exc_info is not None for record in caplog.records)

    probe.error = RuntimeError()
    assert (await run(healer, ctx())).error == "RuntimeError"


async def test_a_strategy_that_outlives_its_timeout_is_timed_out(
    make: Callable[..., Healer],
) -> None:
    healer = make()
    probe = Probe("stuck", timeout=0.01)
    gated(probe, "fp")  # never set
    healer.register(probe)
    loop = asyncio.get_running_loop()
    began = loop.time()
    async with asyncio.timeout(GUARD):
        execution = await run(healer, ctx())
    assert loop.time() - began < 0.5
    assert execution.status is S.TIMED_OUT
    assert execution.error == "timed out after 0.01s"
    assert execution.result is None
    assert probe.cancelled == ["fp"]  # the strategy was actually stopped


async def test_a_strategy_swallowing_the_timeout_is_still_timed_out(
    make: Callable[..., Healer],
) -> None:
    async def stubborn(context: HealingContext) -> str | None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            return "pretended to finish"
        return None

    healer = make()
    healer.register(FunctionStrategy("stubborn", stubborn, timeout=0.01))
    async with asyncio.timeout(GUARD):
        execution = await run(healer, ctx())
    assert execution.status is S.TIMED_OUT


async def test_a_strategys_own_timeout_error_is_a_failure(
    make: Callable[..., Healer],
) -> None:
    healer = make()
    healer.register(Probe("upstream", error=TimeoutError("upstream took too long")))
    execution = await run(healer, ctx())
    assert execution.status is S.FAILED
    assert execution.error == "TimeoutError: upstream took too long"


async def test_wait_for_an_unknown_execution_raises_key_error(
    make: Callable[..., Healer],
) -> None:
    healer = make()
    with pytest.raises(KeyError):
        await healer.wait(99)


# --- concurrency cap ----------------------------------------------------------------------


async def test_at_most_max_concurrent_run_and_the_rest_wait_in_fifo_order(
    make: Callable[..., Healer],
) -> None:
    healer = make(max_concurrent=2)
    probe = Probe("retry")
    gates = gated(probe, "a", "b", "c", "d", "e")
    healer.register(probe)
    a, b, c, d, e = (healer.submit(ctx(name)) for name in "abcde")

    await until(lambda: len(probe.started) == 2)
    for _ in range(20):
        await asyncio.sleep(0)  # give a broken cap every chance to start more
    assert statuses([a, b, c, d, e]) == [S.IN_PROGRESS] * 2 + [S.PENDING] * 3
    assert probe.started == ["a", "b"]
    assert healer.in_flight() == 5

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
        assert (await healer.wait(execution.id)).status is S.COMPLETED
    assert probe.peak == 2
    assert healer.in_flight() == 0


# --- memory, inspection, shutdown ---------------------------------------------------------


async def test_history_forgets_the_oldest_finished(make: Callable[..., Healer]) -> None:
    healer = make(history=2)
    healer.register(Probe("retry"))
    first, second, third = [await run(healer, ctx(name)) for name in "abc"]
    assert healer.executions() == [third, second]
    with pytest.raises(KeyError):
        await healer.wait(first.id)
    assert (await healer.wait(second.id)) is second


async def test_history_never_drops_unfinished_executions(
    make: Callable[..., Healer],
) -> None:
    healer = make(history=1, max_concurrent=3)
    probe = Probe("retry")
    gate = gated(probe, "slow")["slow"]
    healer.register(probe)
    slow = healer.submit(ctx("slow"))
    await run(healer, ctx("quick"))
    latest = await run(healer, ctx("latest"))
    assert healer.executions() == [latest, slow]

    gate.set()
    await healer.wait(slow.id)
    assert healer.executions() == [slow]  # forgetting goes by finish order


async def test_history_zero_keeps_nothing_finished(make: Callable[..., Healer]) -> None:
    healer = make(history=0)
    healer.register(Probe("retry"))
    execution = await run(healer, ctx())
    assert execution.status is S.COMPLETED
    assert healer.executions() == []


async def test_in_flight_and_executions(make: Callable[..., Healer]) -> None:
    healer = make(max_concurrent=2)
    probe = Probe("gated")
    gates = gated(probe, "g1", "g2", "g3")
    healer.register(probe, ["gated"])
    healer.register(Probe("ok"), ["ok"])
    healer.register(Probe("bad", error=OSError("disk")), ["bad"])
    healer.register(Probe("slow", timeout=0.01, gates={"s": asyncio.Event()}), ["slow"])
    assert healer.in_flight() == 0
    assert healer.executions() == []

    completed = await run(healer, ctx("o", "ok"))
    failed = await run(healer, ctx("x", "bad"))
    async with asyncio.timeout(GUARD):
        timed_out = await run(healer, ctx("s", "slow"))
    in_progress = [healer.submit(ctx(name, "gated")) for name in ("g1", "g2")]
    pending = healer.submit(ctx("g3", "gated"))
    await until(lambda: len(probe.started) == 2)

    everything = [completed, failed, timed_out, *in_progress, pending]
    assert healer.executions() == everything[::-1]  # newest first
    assert statuses(everything) == [S.COMPLETED, S.FAILED, S.TIMED_OUT] + [S.IN_PROGRESS] * 2 + [
        S.PENDING
    ]
    assert healer.in_flight() == 3

    for event in gates.values():
        event.set()
    await healer.wait(pending.id)
    assert healer.in_flight() == 0


async def test_shutdown_cancels_everything_and_leaves_nothing_running(
    make: Callable[..., Healer], clock: FakeClock
) -> None:
    healer = make(max_concurrent=1)
    probe = Probe("retry")
    gated(probe, "a", "b")
    healer.register(probe)
    running = healer.submit(ctx("a"))
    waiting = healer.submit(ctx("b"))
    await until(lambda: running.status is S.IN_PROGRESS)
    just_submitted = healer.submit(ctx("c"))  # its task has not even started

    clock.now = 50.0
    async with asyncio.timeout(GUARD):
        await healer.shutdown()
    assert statuses([running, waiting, just_submitted]) == [S.CANCELLED] * 3
    assert (running.error, running.result, running.finished_at) == ("cancelled", None, 50.0)
    assert (waiting.started_at, waiting.finished_at) == (None, 50.0)
    assert healer.in_flight() == 0
    assert probe.cancelled == ["a"]
    assert probe.started == ["a"]  # the waiting ones never ran
    assert asyncio.all_tasks() == {asyncio.current_task()}
    with pytest.raises(RuntimeError, match="shut down"):
        healer.submit(ctx("late"))
    await healer.shutdown()  # idempotent


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
        Healer(**kwargs)
