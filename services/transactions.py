"""The transactional state manager: every write transaction of the services opens in `run()`.

One database transaction per attempt; a `transaction_log` row commits with the change or, when
the attempt fails, a rolled-back row is written on its own afterwards (`audited=False` for
bookkeeping that is no state change of its own: registering who wrote, a bulk job's progress,
retention). Transient database faults retry the whole attempt with exponential backoff and
jitter (tenacity); a lost optimistic-lock race becomes `StaleVersion` and is not retried. A
unit of work that wrote notifications wakes the outbox sender once it has committed.

Outside it, on purpose (each says why where it opens its transaction): the outbox sender's
claims and outcomes (outbox/sender.py), error records (services/failures/recorder.py) and the
error spool, a file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from core.clock import Clock
from core.enums import TransactionOutcome
from core.exceptions import StaleVersion
from database.models import TransactionLog
from outbox.repository import wrote_outbox
from utils.db_faults import is_transient
from utils.masking import Masker

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Work that commits with the next audited change this task makes, and with no other: the
# confirmation being applied marks itself applied inside the very transaction that applies it
# (services/confirmations.py), so no crash can leave the one without the other.
Rider = Callable[[AsyncSession], Awaitable[None]]
RIDER: ContextVar[Rider | None] = ContextVar("rider", default=None)


@dataclass
class Change:
    """What a unit of work sees: its session, and the audit snapshots it fills in."""

    session: AsyncSession
    entity_id: int | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    initial: float = 0.05  # seconds
    maximum: float = 1.0
    jitter: float = 0.05


class TransactionalStateManager:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        masker: Masker,
        *,
        wake_outbox: Callable[[], None] = lambda: None,
        policy: RetryPolicy = RetryPolicy(),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.masker = masker
        self.wake_outbox = wake_outbox  # the sender delivers what a commit wrote, at once
        self.policy = policy
        self.sleep = sleep  # tests inject a recorder instead of waiting

    def retrying(self) -> AsyncRetrying:
        """Attempts of one unit of work: again after a transient database fault (a deadlock,
        a busy file, a dropped connection), with backoff, at most `policy.attempts` times."""
        return AsyncRetrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(self.policy.attempts),
            wait=wait_exponential_jitter(
                multiplier=self.policy.initial, max=self.policy.maximum, jitter=self.policy.jitter
            ),
            sleep=self.sleep,
            reraise=True,
        )

    async def run(
        self,
        operation: str,
        entity: str,
        work: Callable[[Change], Awaitable[T]],
        *,
        actor_id: int | None = None,
        entity_id: int | None = None,
        audited: bool = True,
    ) -> T:
        attempt_no = 0
        async for attempt in self.retrying():
            with attempt:
                attempt_no += 1
                return await self._attempt(
                    operation, entity, work, actor_id, entity_id, attempt_no, audited
                )
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _attempt(
        self,
        operation: str,
        entity: str,
        work: Callable[[Change], Awaitable[T]],
        actor_id: int | None,
        entity_id: int | None,
        attempt_no: int,
        audited: bool,
    ) -> T:
        change: Change | None = None
        rider = RIDER.get() if audited else None
        try:
            async with self.sessionmaker() as session, session.begin():
                change = Change(session=session, entity_id=entity_id)
                result = await work(change)
                if rider is not None:
                    await rider(session)
                await session.flush()
                if audited:
                    session.add(self._log(operation, entity, change, actor_id, attempt_no, None))
        except StaleDataError:
            if audited:
                await self._log_rollback(operation, entity, change, actor_id, attempt_no, "stale")
            raise StaleVersion() from None
        except BaseException as exc:
            if audited:
                error = f"{type(exc).__name__}: {self.masker.text(str(exc))}"[:2000]
                await self._log_rollback(operation, entity, change, actor_id, attempt_no, error)
            raise
        if rider is not None:
            RIDER.set(None)  # it rode once: what the task does next (a job it started) rides alone
        if wrote_outbox(session):
            self.wake_outbox()
        return result

    def _log(
        self,
        operation: str,
        entity: str,
        change: Change | None,
        actor_id: int | None,
        attempts: int,
        error: str | None,
    ) -> TransactionLog:
        committed = error is None
        before = change.before if change else None
        # A rolled-back change never happened: its intended "after" is not recorded.
        after = change.after if change and committed else None
        return TransactionLog(
            operation=operation,
            entity=entity,
            entity_id=change.entity_id if change else None,
            actor_id=actor_id,
            before=self._masked(before),
            after=self._masked(after),
            outcome=TransactionOutcome.COMMITTED if committed else TransactionOutcome.ROLLED_BACK,
            error=error,
            attempts=attempts,
            created_at=self.clock.now(),
        )

    def _masked(self, values: dict[str, Any] | None) -> dict[str, Any] | None:
        if not values:
            return None
        masked = self.masker.data(values)
        return masked if isinstance(masked, dict) else None

    async def _log_rollback(
        self,
        operation: str,
        entity: str,
        change: Change | None,
        actor_id: int | None,
        attempts: int,
        error: str,
    ) -> None:
        try:
            async with self.sessionmaker() as session, session.begin():
                session.add(self._log(operation, entity, change, actor_id, attempts, error))
        except Exception:
            # The database may be the thing that failed; the error record is spooled instead.
            logger.warning("could not log the rollback of %s %s", operation, entity)
