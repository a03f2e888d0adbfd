"""The notification outbox: rows written with the change, delivered after the commit.

This is the simple sender of the foundation: due rows are sent in id order, a failure is
recorded and retried later with a growing delay, and a row becomes dead after MAX_ATTEMPTS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.notifications import Renderer
from database.enums import NotificationStatus
from database.models import PendingNotification
from database.repositories.notifications import NotificationRepository
from utils.circuit_breaker import CircuitOpenError

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(seconds=30)
BATCH_SIZE = 50


async def enqueue(
    session: AsyncSession,
    *,
    recipient_id: int,
    kind: str,
    payload: dict[str, Any],
    idempotency_key: str,
    now: datetime,
) -> int | None:
    """Write one notification in the caller's transaction; a repeated key writes nothing."""
    return await NotificationRepository(session).add(
        recipient_id=recipient_id,
        kind=kind,
        payload=payload,
        idempotency_key=idempotency_key,
        now=now,
    )


class OutboxSender:
    def __init__(
        self,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        renderer: Renderer,
        clock: Clock,
        on_outcome: Callable[[str], None] = lambda outcome: None,
        exclusive: Callable[[], AbstractAsyncContextManager[bool]] | None = None,
    ) -> None:
        # Several replicas share the table and rows are not claimed one by one: only the one
        # holding the lock delivers, so nobody gets a message twice.
        self.exclusive = exclusive
        self.on_outcome = on_outcome  # "sent", "retry" or "dead": for the metrics
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.renderer = renderer
        self.clock = clock
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def kick(self) -> None:
        """Ask the running loop to deliver now (called after a commit that wrote rows)."""
        self._wake.set()

    async def flush(self) -> int:
        """Deliver every due row once; returns how many were sent."""
        if self.exclusive is None:
            return await self._flush()
        async with self.exclusive() as got:
            return await self._flush() if got else 0

    async def _flush(self) -> int:
        async with self._lock:
            sent = 0
            while True:
                async with self.sessionmaker() as session:
                    batch = await NotificationRepository(session).due(self.clock.now(), BATCH_SIZE)
                if not batch:
                    return sent
                progressed = False
                for row in batch:
                    try:
                        ok = await self._deliver(row)
                    except CircuitOpenError:
                        # Telegram is known to be down: keep every row as it is for later.
                        return sent
                    sent += ok
                    progressed = progressed or ok
                if not progressed or len(batch) < BATCH_SIZE:
                    return sent

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

    async def _deliver(self, row: PendingNotification) -> bool:
        error: str | None = None
        retry_after: float | None = None
        permanent = False
        try:
            text, markup = self.renderer.render(row)
            await self.bot.send_message(
                chat_id=row.recipient.telegram_id, text=text, reply_markup=markup
            )
        except CircuitOpenError:
            raise  # not an attempt: nothing was sent
        except TelegramRetryAfter as exc:
            error, retry_after = f"{type(exc).__name__}: {exc}", float(exc.retry_after)
        except TelegramForbiddenError as exc:
            error, permanent = f"{type(exc).__name__}: {exc}", True  # blocked: retrying is futile
        except (TelegramAPIError, TelegramNetworkError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a rendering bug must not block the rest of the queue
            logger.exception("notification %s could not be rendered", row.id)
            error = f"{type(exc).__name__}: {exc}"
        if error is not None:
            logger.warning("notification %s not delivered: %s", row.id, error)
        await self._record(row.id, error, retry_after=retry_after, permanent=permanent)
        return error is None

    async def _record(
        self, row_id: int, error: str | None, *, retry_after: float | None, permanent: bool
    ) -> None:
        now = self.clock.now()
        async with self.sessionmaker() as session, session.begin():
            row = await session.get(PendingNotification, row_id)
            if row is None:
                return
            if retry_after is not None:
                # Telegram said exactly when to come back; that is not a failed attempt.
                row.status, row.last_error = NotificationStatus.FAILED, error
                row.next_attempt_at = now + timedelta(seconds=retry_after)
                self.on_outcome("retry")
                return
            row.attempts += 1
            if error is None:
                row.status, row.sent_at, row.last_error = NotificationStatus.SENT, now, None
                self.on_outcome("sent")
                return
            row.last_error = error[:2000]
            if permanent or row.attempts >= MAX_ATTEMPTS:
                row.status = NotificationStatus.DEAD
                logger.warning("notification %s is dead after %s attempts", row_id, row.attempts)
                self.on_outcome("dead")
            else:
                row.status = NotificationStatus.FAILED
                row.next_attempt_at = now + RETRY_BASE * 2 ** (row.attempts - 1)
                self.on_outcome("retry")
