"""An asyncio circuit breaker: stop calling a dependency that keeps failing, probe it later.

CLOSED lets calls through and counts consecutive failures; after ``failure_threshold`` of them
the breaker goes OPEN and rejects calls with :class:`CircuitOpenError` for ``reset_timeout``
seconds. It then goes HALF_OPEN (lazily, when ``state`` is read) and admits at most
``half_open_max_calls`` concurrent trial calls: ``success_threshold`` successes close it, any
failure opens it again with a fresh timer.

Two ways in: ``async with breaker`` around a call, or ``allow()`` then exactly one of
``record_success()``, ``record_failure()`` or ``release()`` where the call is not one block
(a connection pool's connect hook). ``record_evidence()`` closes the breaker when a call made
outside it (Telegram's long poll) shows the dependency answers again.

The breaker lives on one event loop and needs no locks: every method runs to completion
without awaiting. ``async with breaker`` remembers the state a call was admitted in, so an
outcome that arrives after the breaker has moved on (a slow call admitted while CLOSED that
ends in HALF_OPEN, a trial that ends after another trial re-opened the breaker) is ignored and
never takes or frees someone else's trial slot.

Put timeouts inside the breaker (``async with breaker: async with asyncio.timeout(5): ...``):
a timeout around it cancels the block, and cancellation counts as neither success nor failure.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from enum import StrEnum
from types import TracebackType
from typing import Any

logger = logging.getLogger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpenError(Exception):
    """A call was refused without reaching the dependency."""

    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(name, retry_after)  # keeps the error picklable with both arguments
        self.name = name
        self.retry_after = max(0.0, retry_after)

    def __str__(self) -> str:
        return f"circuit {self.name!r} is open; retry after {self.retry_after:.3f}s"


# plain names for the members: BreakerState.OPEN goes through a descriptor, 15x a local lookup
_CLOSED, _OPEN, _HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


def _always_failure(exc: BaseException) -> bool:
    return True


# what one admitted call holds until its outcome is recorded: (generation, holds a trial slot);
# a plain tuple because a frozen dataclass would triple the cost of a decision
_Ticket = tuple[int, bool]


class CircuitBreaker:
    """One breaker per dependency; see the module docstring for the state machine."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        success_threshold: int = 3,
        half_open_max_calls: int = 1,
        is_failure: Callable[[BaseException], bool] = _always_failure,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for arg, value in (
            ("failure_threshold", failure_threshold),
            ("success_threshold", success_threshold),
            ("half_open_max_calls", half_open_max_calls),
        ):
            if value < 1:
                raise ValueError(f"{arg} must be >= 1, got {value!r}")
        if not reset_timeout > 0:  # written this way so NaN is rejected too
            raise ValueError(f"reset_timeout must be > 0, got {reset_timeout!r}")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.success_threshold = success_threshold
        self.half_open_max_calls = half_open_max_calls
        self._is_failure = is_failure
        self._clock = clock
        self._state: BreakerState = _CLOSED
        self._generation = 0  # bumped on every transition so stale outcomes can be recognised
        self._consecutive_failures = 0
        self._half_open_successes = 0
        self._trials_in_flight = 0
        self._opened_at: float | None = None
        self._last_failure: str | None = None  # named in the "opened" log line
        # tickets of `async with` blocks, per task, because one breaker is entered concurrently
        self._entered: dict[asyncio.Task[Any] | None, list[_Ticket]] = {}

    # -- state -----------------------------------------------------------------------------

    @property
    def state(self) -> BreakerState:
        """The current state; reading it moves OPEN to HALF_OPEN once the timeout has passed."""
        if (
            self._state is _OPEN
            and self._opened_at is not None
            and self._clock() >= self._opened_at + self.reset_timeout
        ):
            self._transition(_HALF_OPEN)
        return self._state

    def _retry_after(self) -> float:
        if self._state is not _OPEN or self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.reset_timeout - self._clock())

    def _transition(self, new: BreakerState) -> None:
        old = self._state
        if old is new:
            return
        self._state = new
        self._generation += 1
        self._trials_in_flight = 0  # trials of the previous state can no longer free a slot
        self._half_open_successes = 0
        if new is _OPEN:
            self._opened_at = self._clock()
            logger.warning(
                "circuit %r opened (%s -> %s), last failure: %s",
                self.name,
                old,
                new,
                self._last_failure,
            )
        elif new is _CLOSED:
            self._opened_at = None
            self._consecutive_failures = 0
            logger.info("circuit %r closed (%s -> %s)", self.name, old, new)
        else:
            logger.info("circuit %r half-open (%s -> %s)", self.name, old, new)

    # -- admission and outcomes -----------------------------------------------------------

    def _admit(self) -> _Ticket:
        state = self.state
        if state is _CLOSED:
            return (self._generation, False)
        if state is _HALF_OPEN and self._trials_in_flight < self.half_open_max_calls:
            self._trials_in_flight += 1
            return (self._generation, True)
        # a full half-open breaker has no deadline: a slot frees when a trial ends
        raise CircuitOpenError(self.name, self._retry_after())

    def _current_ticket(self) -> _Ticket:
        # for record_*() without allow()'s ticket: assume it closes one of the current trials
        trial = self._state is _HALF_OPEN and self._trials_in_flight > 0
        return (self._generation, trial)

    def _release(self, ticket: _Ticket) -> bool:
        """Free the ticket's trial slot; True when its outcome may still move the state."""
        generation, trial = ticket
        if generation != self._generation:
            return False
        if trial:
            self._trials_in_flight = max(0, self._trials_in_flight - 1)
        return True

    def _settle_success(self, ticket: _Ticket) -> None:
        if not self._release(ticket):
            return
        if self._state is _CLOSED:
            self._consecutive_failures = 0
        elif self._state is _HALF_OPEN:
            self._half_open_successes += 1
            if self._half_open_successes >= self.success_threshold:
                self._transition(_CLOSED)

    def _settle_failure(self, ticket: _Ticket, exc: BaseException | None) -> None:
        if exc is not None:
            self._last_failure = type(exc).__name__  # the class only: messages may hold secrets
        if not self._release(ticket):
            return
        if self._state is _CLOSED:
            self._consecutive_failures += 1
            if self._consecutive_failures >= self.failure_threshold:
                self._transition(_OPEN)
        elif self._state is _HALF_OPEN:
            self._transition(_OPEN)

    def _settle_exception(self, ticket: _Ticket, exc: BaseException) -> None:
        if not isinstance(exc, Exception):
            # cancellation, KeyboardInterrupt, SystemExit say nothing about the dependency
            self._release(ticket)
            return
        try:
            failed = self._is_failure(exc)
        except Exception:
            logger.exception("circuit %r is_failure raised; counting a failure", self.name)
            failed = True
        if failed:
            self._settle_failure(ticket, exc)
        else:
            self._settle_success(ticket)  # the dependency answered, e.g. with an HTTP 400

    def allow(self) -> None:
        """Raise CircuitOpenError unless a call may go through now.

        In HALF_OPEN an allowed call takes a trial slot: pair it with exactly one
        record_success() or record_failure().
        """
        self._admit()

    def record_success(self) -> None:
        self._settle_success(self._current_ticket())

    def release(self) -> None:
        """An allowed call ended with no verdict (it was cancelled): free its trial slot."""
        self._release(self._current_ticket())

    def record_evidence(self) -> None:
        """The dependency answered a call made outside the breaker (a long poll): close it.

        Waiting out the reset timeout then would refuse calls to a dependency known to be
        back; if it is only partly back, the failure threshold opens the breaker again."""
        if self._state is not _CLOSED:
            self._transition(_CLOSED)

    def record_failure(self, exc: BaseException | None = None) -> None:
        """Count a failure; exc (if given) only names the last failure in the "opened" log."""
        self._settle_failure(self._current_ticket(), exc)

    async def __aenter__(self) -> CircuitBreaker:
        ticket = self._admit()
        self._entered.setdefault(asyncio.current_task(), []).append(ticket)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task = asyncio.current_task()
        stack = self._entered[task]
        ticket = stack.pop()  # nested blocks of one task exit in reverse order
        if not stack:
            del self._entered[task]
        if exc is None:
            self._settle_success(ticket)
        else:
            self._settle_exception(ticket, exc)
