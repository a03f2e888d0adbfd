"""Which replica sends the notifications: one at a time for the whole bot, with fail-over.

Telegram's 30 messages a second is a budget per bot token. Each sender paces itself exactly
(utils/rate_limit.py), so the budget holds across replicas when only one of them sends: the
holder of the `outbox_sender` lease (a `job_leases` row, database/repositories/jobs.py). The
holder renews it every third of its length; the others try to take it as often, so when the
holder dies (stops renewing) another takes over within one lease length. A holder whose lease
ran out by its own clock, renewed or not, stops starting sends at once (OutboxSender.leading);
a new holder starts one second after it took the lease (TAKEOVER_GRACE).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from database.repositories.jobs import JobLeaseRepository

logger = logging.getLogger(__name__)

SENDER_JOB = "outbox_sender"  # the lease's name in job_leases, and in health
# The lease lasts three polls (a waiting replica looks as often as the holder renews: every
# third), at least 3 s: a fast poll must not turn the lease into a write several times a second.
LEASE_POLLS = 3
MIN_LEASE_SECONDS = 3.0
# Telegram judges one-second windows: what the previous holder started before its lease ran out
# (its last second, its sends in flight) leaves every window before the new holder's first send.
TAKEOVER_GRACE = 1.0


def lease_seconds(poll_seconds: float) -> float:
    return max(MIN_LEASE_SECONDS, LEASE_POLLS * poll_seconds)


class SenderLease:
    """This replica's claim to be the bot's one sender: `holds()` says whether it is now."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        holder: str,
        seconds: float,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.holder = holder
        self.seconds = seconds
        self.sleep = sleep  # the renewals' timer (real time: the clock may be a simulated one)
        self.since: datetime | None = None  # held without a break since (the lease's ticket)
        self.until: datetime | None = None

    def holds(self) -> bool:
        """Held, and not run out by this replica's clock (a renewal that failed counts)."""
        return self.until is not None and self.clock.now() < self.until

    def ready(self) -> bool:
        """Held, and the take-over's grace is over: this replica may start sends."""
        grace = timedelta(seconds=TAKEOVER_GRACE)
        return self.holds() and self.since is not None and self.clock.now() >= self.since + grace

    async def hold(self) -> bool:
        """Take the lease, or renew it; True when this replica is the sender now. A database
        error keeps what was held until it runs out."""
        now = self.clock.now()
        until = now + timedelta(seconds=self.seconds)
        had = self.holds()
        try:
            async with self.sessionmaker() as session, session.begin():
                since = await JobLeaseRepository(session).hold(SENDER_JOB, self.holder, now, until)
        except Exception:
            logger.warning("outbox: could not renew or take the sender's lease", exc_info=True)
            return self.holds()
        if since is None:
            self.since = self.until = None
            if had:
                logger.warning("outbox: another replica took the sender's lease; sending stops")
            return False
        self.since, self.until = since, until
        if not had:
            logger.info("outbox: replica %s is the bot's sender now", self.holder)
        return True

    async def release(self) -> None:
        """Give the lease up (shutting down): another replica takes it at its next try."""
        since, self.since, self.until = self.since, None, None
        if since is None:
            return
        async with self.sessionmaker() as session, session.begin():
            await JobLeaseRepository(session).finish(
                SENDER_JOB, self.holder, since, self.clock.now(), "ok", "released"
            )

    async def keep(self, on_gained: Callable[[], None]) -> None:
        """Forever: renew or try to take the lease every third of its length (`on_gained`
        once this replica may send). Cancelled: the lease is given up."""
        step: asyncio.Future[bool] | None = None
        try:
            while True:
                had = self.holds()
                # Shielded: a cancel in the middle of the write would leave its transaction
                # open (SQLite: the write lock held) under the release below.
                step = asyncio.ensure_future(self.hold())
                if await asyncio.shield(step) and not had:
                    # The next renewal still comes in time: the lease is at least 3 s.
                    await self.sleep(TAKEOVER_GRACE)
                    on_gained()
                await self.sleep(self.seconds / LEASE_POLLS)
        finally:
            with contextlib.suppress(Exception):
                if step is not None:
                    await step  # the write in flight ends before the lease is given up
                await asyncio.shield(self.release())
