"""Self-healing: the healer picks a strategy per error category and runs it, tracked and
capped, right after a failure is recorded (no person involved; an admin's repairs of requests
are workflow recovery, services/recovery/).

Knows nothing about the bot: categories are plain strings (a StrEnum value works as one),
strategies are anything matching ``HealingStrategy``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

logger = logging.getLogger(__name__)

LEAVE_FOR_ADMIN_NOTE = "no automatic recovery; left for an admin"
DROPPED_NOTE = "dropped: too many executions waiting"
# Executions waiting for a slot, at most: a flood of failures must not become a task each.
# Past it the least important waiting one gives way to a more important newcomer, else the
# newcomer is dropped (counted). A thousand is minutes of work at any sensible concurrency.
MAX_PENDING = 1000


class ExecutionStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    DROPPED = "dropped"  # never ran: the queue was full (see MAX_PENDING)

    @property
    def finished(self) -> bool:
        return self not in (ExecutionStatus.PENDING, ExecutionStatus.IN_PROGRESS)


@dataclass(frozen=True)
class HealingContext:
    category: str
    fingerprint: str
    reference: str | None = None
    error: BaseException | None = None
    details: Mapping[str, object] = field(default_factory=dict)


class HealingStrategy(Protocol):
    # Read-only members so frozen dataclasses and plain classes both satisfy the protocol.
    @property
    def name(self) -> str: ...

    @property
    def priority(self) -> int: ...  # higher wins

    @property
    def timeout(self) -> float: ...  # seconds

    def can_handle(self, context: HealingContext) -> bool: ...

    async def heal(self, context: HealingContext) -> str | None: ...


@dataclass
class Execution:
    id: int
    strategy: str
    context: HealingContext
    status: ExecutionStatus
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    result: str | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.status.finished


@dataclass(frozen=True)
class LeaveForAdmin:
    """The default fallback: does nothing, so a human picks the error up."""

    name: str = "leave_for_admin"
    priority: int = 0
    timeout: float = 1.0

    def can_handle(self, context: HealingContext) -> bool:
        return True

    async def heal(self, context: HealingContext) -> str | None:
        return LEAVE_FOR_ADMIN_NOTE


@dataclass(frozen=True)
class FunctionStrategy:
    """Adapts a coroutine function (and an optional predicate) into a HealingStrategy."""

    name: str
    action: Callable[[HealingContext], Awaitable[str | None]]
    priority: int = 0
    timeout: float = 30.0
    predicate: Callable[[HealingContext], bool] | None = None

    def can_handle(self, context: HealingContext) -> bool:
        return self.predicate is None or self.predicate(context)

    async def heal(self, context: HealingContext) -> str | None:
        return await self.action(context)


@dataclass(frozen=True)
class _Registration:
    strategy: HealingStrategy
    categories: frozenset[str] | None  # None: any category


def _describe(exc: BaseException) -> str:
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate_strategy(strategy: HealingStrategy) -> None:
    if not isinstance(strategy.name, str) or not strategy.name:
        raise ValueError("strategy.name must be a non-empty string")
    if not _is_int(strategy.priority):
        raise ValueError(f"strategy.priority must be an int, got {strategy.priority!r}")
    timeout = strategy.timeout
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise ValueError(f"strategy.timeout must be positive finite seconds, got {timeout!r}")


class Healer:
    """Registry of strategies per category plus bounded, tracked, concurrency-capped runs.

    Memory is bounded: at most `max_concurrent` running, `max_pending` waiting (see
    MAX_PENDING) and `history` finished executions are remembered.

    ``submit`` must be called from inside a running event loop.
    """

    def __init__(
        self,
        *,
        max_concurrent: int = 10,
        history: int = 500,
        max_pending: int = MAX_PENDING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not _is_int(max_concurrent) or max_concurrent < 1:
            raise ValueError(f"max_concurrent must be an int >= 1, got {max_concurrent!r}")
        if not _is_int(history) or history < 0:
            raise ValueError(f"history must be an int >= 0, got {history!r}")
        if not _is_int(max_pending) or max_pending < 1:
            raise ValueError(f"max_pending must be an int >= 1, got {max_pending!r}")
        if not callable(clock):
            raise ValueError(f"clock must be callable, got {clock!r}")
        self._history = history
        self._max_pending = max_pending
        self._clock = clock
        self._registry: dict[str, _Registration] = {}
        self._fallback: HealingStrategy = LeaveForAdmin()
        # Freed slots go to the oldest waiter: asyncio.Semaphore is FIFO in CPython 3.11+
        # (gh-90155), and this project requires 3.11.
        self._slots = asyncio.Semaphore(max_concurrent)
        self._ids = itertools.count(1)
        self._executions: dict[int, Execution] = {}  # insertion order is id order
        self._finished: deque[int] = deque()  # finish order, for forgetting oldest first
        self._tasks: dict[int, tuple[Execution, asyncio.Task[None]]] = {}
        self._waiting: dict[int, int] = {}  # pending execution id -> its strategy's priority
        self.dropped = 0  # executions dropped because the queue was full, since start
        self._closed = False

    # --- registry -----------------------------------------------------------------------

    def register(self, strategy: HealingStrategy, categories: Iterable[str] | None = None) -> None:
        """Register for the given categories (None: any); a known name is replaced in place.

        A bare string (or StrEnum member) is taken as one category, not as its characters.
        """
        _validate_strategy(strategy)
        scope: frozenset[str] | None
        if categories is None:
            scope = None
        elif isinstance(categories, str):
            scope = frozenset((categories,))
        else:
            scope = frozenset(categories)
            if not scope:
                raise ValueError("categories must not be empty; pass None for any category")
        self._registry[strategy.name] = _Registration(strategy, scope)

    def _choose(self, context: HealingContext) -> HealingStrategy:
        candidates = [
            registration.strategy
            for registration in self._registry.values()
            if registration.categories is None or context.category in registration.categories
        ]
        # sorted() is stable, so among equal priorities the earlier registered is asked first.
        for strategy in sorted(candidates, key=lambda candidate: -candidate.priority):
            if self._accepts(strategy, context):
                return strategy
        return self._fallback

    @staticmethod
    def _accepts(strategy: HealingStrategy, context: HealingContext) -> bool:
        try:
            return bool(strategy.can_handle(context))
        except Exception:
            logger.exception(
                "can_handle of recovery strategy %r raised for %s/%s; treated as False",
                strategy.name,
                context.category,
                context.fingerprint,
            )
            return False

    # --- running ------------------------------------------------------------------------

    def submit(self, context: HealingContext) -> Execution:
        if self._closed:
            raise RuntimeError("the healer has been shut down")
        loop = asyncio.get_running_loop()  # fail before recording anything if there is no loop
        strategy = self._choose(context)
        execution = Execution(
            id=next(self._ids),
            strategy=strategy.name,
            context=context,
            status=ExecutionStatus.PENDING,
            created_at=self._clock(),
        )
        self._executions[execution.id] = execution
        if len(self._waiting) >= self._max_pending and not self._make_room(strategy.priority):
            self._drop(execution)
            return execution
        self._waiting[execution.id] = strategy.priority
        task = loop.create_task(
            self._drive(execution, strategy), name=f"healing-{execution.id}-{strategy.name}"
        )
        self._tasks[execution.id] = (execution, task)
        task.add_done_callback(lambda done: self._on_task_done(execution, done))
        return execution

    def _make_room(self, priority: int) -> bool:
        """Drop the least important waiting execution (the newest of equals) if it matters
        less than `priority`; False when every waiting one matters as much or more."""
        victim, least = min(self._waiting.items(), key=lambda item: (item[1], -item[0]))
        if least >= priority:
            return False
        execution, task = self._tasks[victim]
        self._drop(execution)
        task.cancel()  # it only waits for a slot: nothing of it ran
        return True

    def _drop(self, execution: Execution) -> None:
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 100 == 0:  # a flood, not a line per drop
            logger.warning("healing queue full: %d executions dropped so far", self.dropped)
        self._finish(execution, ExecutionStatus.DROPPED, error=DROPPED_NOTE)

    async def wait(self, execution_id: int) -> Execution:
        """Await the end of an execution (its task included); KeyError if it is unknown."""
        entry = self._tasks.get(execution_id)
        if entry is None:
            known = self._executions.get(execution_id)
            if known is None:
                raise KeyError(execution_id)
            return known
        execution, task = entry
        await asyncio.wait((task,))  # unlike awaiting the task, never re-raises its cancellation
        return execution

    async def shutdown(self) -> None:
        """Cancel everything unfinished and await every task, cleanup included.

        Later submits raise RuntimeError.
        """
        self._closed = True
        tasks = []
        for execution, task in list(self._tasks.values()):
            if not execution.done:
                # the verdict first: the task only unwinds at its next await
                self._finish(execution, ExecutionStatus.CANCELLED, error="cancelled")
                task.cancel()
            tasks.append(task)
        if tasks:
            await asyncio.wait(tasks)

    async def _drive(self, execution: Execution, strategy: HealingStrategy) -> None:
        try:
            await self._slots.acquire()
        except asyncio.CancelledError:
            self._finish(execution, ExecutionStatus.CANCELLED, error="cancelled")
            raise
        self._waiting.pop(execution.id, None)
        try:
            execution.status = ExecutionStatus.IN_PROGRESS
            execution.started_at = self._clock()
            await self._attempt(execution, strategy)
        finally:
            self._slots.release()

    async def _attempt(self, execution: Execution, strategy: HealingStrategy) -> None:
        context = execution.context
        deadline = asyncio.timeout(strategy.timeout)
        timed_out = f"timed out after {strategy.timeout:g}s"
        try:
            async with deadline:
                note = await strategy.heal(context)
        except asyncio.CancelledError:
            self._finish(execution, ExecutionStatus.CANCELLED, error="cancelled")
            raise
        except TimeoutError as exc:
            if not deadline.expired():  # the strategy's own TimeoutError is a plain failure
                self._fail(execution, exc)
                return
            logger.warning(
                "recovery %r %s for %s/%s (execution %d)",
                strategy.name,
                timed_out,
                context.category,
                context.fingerprint,
                execution.id,
            )
            self._finish(execution, ExecutionStatus.TIMED_OUT, error=timed_out)
        except Exception as exc:
            self._fail(execution, exc)
        else:
            if deadline.expired():  # the strategy swallowed the timeout's cancellation
                self._finish(execution, ExecutionStatus.TIMED_OUT, error=timed_out)
            else:
                self._finish(execution, ExecutionStatus.COMPLETED, result=note)

    def _fail(self, execution: Execution, exc: Exception) -> None:
        logger.warning(
            "recovery %r failed for %s/%s (execution %d)",
            execution.strategy,
            execution.context.category,
            execution.context.fingerprint,
            execution.id,
            exc_info=exc,
        )
        self._finish(execution, ExecutionStatus.FAILED, error=_describe(exc))

    def _on_task_done(self, execution: Execution, task: asyncio.Task[None]) -> None:
        self._tasks.pop(execution.id, None)
        if task.cancelled():
            self._finish(execution, ExecutionStatus.CANCELLED, error="cancelled")
        elif (exc := task.exception()) is not None:  # only a BaseException can get this far
            self._finish(execution, ExecutionStatus.FAILED, error=_describe(exc))

    def _finish(
        self,
        execution: Execution,
        status: ExecutionStatus,
        *,
        result: str | None = None,
        error: str | None = None,
    ) -> None:
        if execution.done:
            return  # first verdict wins, e.g. shutdown() before the task unwinds
        self._waiting.pop(execution.id, None)
        execution.status = status
        execution.finished_at = self._clock()
        execution.result = result
        execution.error = error
        self._finished.append(execution.id)
        while len(self._finished) > self._history:
            self._executions.pop(self._finished.popleft(), None)

    # --- inspection ---------------------------------------------------------------------

    def executions(self) -> list[Execution]:
        """Remembered executions, newest first."""
        return list(reversed(self._executions.values()))

    def waiting(self) -> int:
        """Executions waiting for a slot (at most `max_pending`)."""
        return len(self._waiting)

    def in_flight(self) -> int:
        return sum(not execution.done for execution in self._executions.values())
