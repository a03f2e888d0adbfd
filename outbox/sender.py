"""The outbox sender: delivers the rows services wrote, after their transaction committed.

A sender claims due rows (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; a claim expires, so rows a
crashed process held come back), sends them within Telegram's limits and records each outcome:

* 429: wait exactly ``retry_after`` (the whole sender pauses); no attempt is used;
* network errors, 5xx, anything unknown: exponential backoff with jitter until the attempts run
  out, then dead (``attempts_exhausted``);
* 403 blocked, 400 chat not found, any other 400 or 404: dead at once, the user is marked
  unreachable;
* the Telegram breaker is open: nothing was sent, the rows are released untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
)
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.enums import DeadReason, NotificationStatus
from database.models import PendingNotification, User
from outbox.render import Renderer
from outbox.repository import NotificationRepository
from utils.backoff import backoff_seconds
from utils.circuit_breaker import CircuitOpenError
from utils.rate_limit import RateLimiter

logger = logging.getLogger(__name__)

BATCH_SIZE = 50
CONCURRENCY = 8  # sends in flight at once: enough to reach the rate limit over a slow link


@dataclass(frozen=True)
class SenderPolicy:
    max_attempts: int = 5
    backoff_base: float = 30.0
    backoff_cap: float = 3600.0
    claim_seconds: float = 120.0


@dataclass(frozen=True)
class Outcome:
    """What one send did: sent, or the error and what became of the row."""

    row_id: int
    status: NotificationStatus
    error: str | None = None


def classify_permanent(exc: Exception) -> DeadReason | None:
    """The reason a send can never succeed, or None when trying again may help."""
    if isinstance(exc, TelegramForbiddenError):
        return DeadReason.BLOCKED
    if isinstance(exc, TelegramBadRequest):
        if "chat not found" in str(exc).lower():
            return DeadReason.CHAT_NOT_FOUND
        return DeadReason.BAD_REQUEST
    if isinstance(exc, TelegramNotFound):
        return DeadReason.BAD_REQUEST
    return None


def new_sender_id() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class OutboxSender:
    def __init__(
        self,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        renderer: Renderer,
        clock: Clock,
        *,
        policy: SenderPolicy | None = None,
        limiter: RateLimiter | None = None,
        random: Callable[[], float] = random.random,
        sender_id: str | None = None,
        on_outcome: Callable[[str], None] = lambda outcome: None,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.renderer = renderer
        self.clock = clock
        self.policy = policy or SenderPolicy()
        self.limiter = limiter or RateLimiter(30.0, 1.0)
        self.random = random
        self.sender_id = sender_id or new_sender_id()
        self.on_outcome = on_outcome  # "sent", "retry" or "dead": for the metrics
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def kick(self) -> None:
        """Ask the running loop to deliver now (called after a commit that wrote rows)."""
        self._wake.set()

    async def flush(self) -> int:
        """Deliver every due row once; returns how many were sent."""
        async with self._lock:
            sent = 0
            while True:
                outcomes, stopped = await self._batch(())
                sent += sum(o.status is NotificationStatus.SENT for o in outcomes)
                if stopped or len(outcomes) < BATCH_SIZE:
                    return sent

    async def send_now(self, ids: Sequence[int]) -> list[Outcome]:
        """Try these rows at once if they are due and unclaimed (the admin's "retry now").

        No lock: the claim keeps a running flush from sending the same rows, and an admin
        should not wait for a long drain to finish."""
        outcomes: list[Outcome] = []
        for start in range(0, len(ids), BATCH_SIZE):
            done, stopped = await self._batch(ids[start : start + BATCH_SIZE])
            outcomes += done
            if stopped:
                break
        return outcomes

    async def run(self, poll_seconds: float) -> None:
        """Deliver forever: on every kick, and every `poll_seconds` for rows that came due."""
        while True:
            try:
                await self.flush()
            except Exception:
                logger.exception("outbox flush failed; will try again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll_seconds)
            self._wake.clear()

    async def _batch(self, only: Sequence[int]) -> tuple[list[Outcome], bool]:
        """Claim and send one batch; the flag says the sender must stop (breaker open, 429)."""
        now = self.clock.now()
        until = now + timedelta(seconds=self.policy.claim_seconds)
        # Claims and outcomes open their own short transactions, not the state manager's: a
        # claim must commit before the send so other senders skip the rows, an outcome must
        # commit right after it, and an audit row per send would double the hottest writes.
        async with self.sessionmaker() as session, session.begin():
            repo = NotificationRepository(session)
            ids = await repo.claim(
                owner=self.sender_id, now=now, until=until, limit=BATCH_SIZE, ids=only
            )
        if not ids:
            return [], False
        async with self.sessionmaker() as session:
            rows = list(await NotificationRepository(session).load(ids))
        outcomes: list[Outcome] = []
        stop = asyncio.Event()
        slots = asyncio.Semaphore(CONCURRENCY)
        tasks: list[asyncio.Task[None]] = []

        async def one(row: PendingNotification) -> None:
            try:
                outcome = await self._deliver(row)
            except CircuitOpenError:
                stop.set()
                return
            finally:
                slots.release()
            if outcome is None:
                stop.set()
            else:
                outcomes.append(outcome)

        try:
            for row in rows:
                await slots.acquire()
                if stop.is_set():
                    slots.release()
                    break
                await self.limiter.acquire(row.recipient.telegram_id)
                tasks.append(asyncio.create_task(one(row)))
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
        done = {o.row_id for o in outcomes}
        left = [row.id for row in rows if row.id not in done]
        if left:
            # Not tried (or held back by a 429 / the breaker): free them for the next pass.
            async with self.sessionmaker() as session, session.begin():
                await NotificationRepository(session).release(self.sender_id, left)
        return outcomes, stop.is_set()

    async def _deliver(self, row: PendingNotification) -> Outcome | None:
        """Send one row and record what happened; None means "429: leave it, pause"."""
        try:
            text, markup = self.renderer.render(row)
        except Exception as exc:  # a rendering bug must not block the rest of the queue
            logger.exception("notification %s could not be rendered", row.id)
            return await self._dead(row, _describe(exc), DeadReason.RENDER_FAILED, count=False)
        try:
            await self.bot.send_message(
                chat_id=row.recipient.telegram_id, text=text, reply_markup=markup
            )
        except CircuitOpenError:
            raise  # not an attempt: nothing was sent
        except TelegramRetryAfter as exc:
            await self._wait(row, _describe(exc), float(exc.retry_after))
            self.limiter.pause(float(exc.retry_after))
            return None
        except Exception as exc:
            error = _describe(exc)
            reason = classify_permanent(exc)
            logger.warning("notification %s not delivered: %s", row.id, error)
            if reason is not None:
                return await self._dead(row, error, reason, count=True)
            return await self._failed(row, error)
        return await self._sent(row)

    async def _update(self, row: PendingNotification, **values: Any) -> None:
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(PendingNotification)
                .where(PendingNotification.id == row.id)
                .values(claimed_by=None, claimed_until=None, **values)
            )
            unreachable = values.get("dead_reason") in _UNREACHABLE
            if values.get("status") is NotificationStatus.SENT or unreachable:
                since = self.clock.now() if unreachable else None
                await session.execute(
                    update(User).where(User.id == row.recipient_id).values(unreachable_since=since)
                )

    async def _sent(self, row: PendingNotification) -> Outcome:
        now = self.clock.now()
        await self._update(
            row,
            status=NotificationStatus.SENT,
            attempts=row.attempts + 1,
            sent_at=now,
            last_attempt_at=now,
            last_error=None,
        )
        self.on_outcome("sent")
        return Outcome(row.id, NotificationStatus.SENT)

    async def _wait(self, row: PendingNotification, error: str, seconds: float) -> None:
        # Telegram said exactly when to come back; that is not a failed attempt.
        now = self.clock.now()
        status = NotificationStatus.RETRYING if row.attempts else row.status
        await self._update(
            row,
            status=status,
            last_error=error,
            last_attempt_at=now,
            next_attempt_at=now + timedelta(seconds=seconds),
        )
        self.on_outcome("retry")

    async def _failed(self, row: PendingNotification, error: str) -> Outcome:
        attempts = row.attempts + 1
        if attempts >= self.policy.max_attempts:
            logger.warning("notification %s is dead after %s attempts", row.id, attempts)
            return await self._dead(row, error, DeadReason.ATTEMPTS_EXHAUSTED, count=True)
        now = self.clock.now()
        delay = backoff_seconds(
            attempts,
            base=self.policy.backoff_base,
            cap=self.policy.backoff_cap,
            random=self.random,
        )
        await self._update(
            row,
            status=NotificationStatus.RETRYING,
            attempts=attempts,
            last_error=error,
            last_attempt_at=now,
            next_attempt_at=now + timedelta(seconds=delay),
        )
        self.on_outcome("retry")
        return Outcome(row.id, NotificationStatus.RETRYING, error)

    async def _dead(
        self, row: PendingNotification, error: str, reason: DeadReason, *, count: bool
    ) -> Outcome:
        now = self.clock.now()
        await self._update(
            row,
            status=NotificationStatus.DEAD,
            attempts=row.attempts + 1 if count else row.attempts,
            last_error=error,
            last_attempt_at=now,
            dead_reason=reason,
            dead_at=now,
        )
        self.on_outcome("dead")
        return Outcome(row.id, NotificationStatus.DEAD, error)


_UNREACHABLE = (DeadReason.BLOCKED, DeadReason.CHAT_NOT_FOUND, DeadReason.BAD_REQUEST)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]
