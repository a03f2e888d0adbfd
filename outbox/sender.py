"""The outbox sender: delivers the rows services wrote, after their transaction committed.

One pass (`flush`, or `send_now` for an admin's chosen rows) runs a pump:

* it claims due rows in batches, one per chat, alerts first (repository `claim`; a claim
  expires, so rows a crashed process held come back);
* it starts each send as soon as the rate limiter allows: per chat one second plus a margin
  after the previous *start*, overall at most the configured rate in any second plus a margin.
  A row whose chat must wait is passed over, so it never holds back rows for other chats;
* it writes outcomes in batches together with the next claim (outcomes.py says what each
  outcome writes): a transaction per batch, not per row;
* a 429 pauses every start for exactly `retry_after` (the whole bot: Telegram does not say
  which limit a 429 came from); the pass stops starting, lets the sends in flight finish and
  ends, and `run` starts the next one the moment the pause is over;
* the Telegram breaker is open: nothing was sent, the rows are released untouched.

A claim belongs to one pass (its token: the sender's id and the pass's number). Outcomes are
written only while the pass still holds the row in the state it claimed; a claim that expired
and was taken by another sender is counted as lost ("lost" in the metrics, `lost_claims`),
never overwritten. A pass renews the claims of the rows it holds (queued or in flight) every
third of `claim_seconds`, so a slow Telegram never lets a queued row's claim expire; a row whose
claim was lost meanwhile is dropped from the queue unsent.

Several replicas: `run` with a lease sends only while this replica holds it (outbox/leadership.py);
a pass stops starting sends the moment it does not.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.enums import NotificationStatus
from database.models import PendingNotification
from outbox.delivery import deliver
from outbox.leadership import SenderLease
from outbox.outcomes import Change, Outcome, SenderPolicy, classify_permanent
from outbox.render import Renderer
from outbox.repository import NotificationRepository
from utils.masking import Masker
from utils.rate_limit import EPSILON, RateLimiter

logger = logging.getLogger(__name__)

__all__ = ["OutboxSender", "Outcome", "SenderPolicy", "classify_permanent", "new_sender_id"]

BATCH_SIZE = 200  # rows claimed at most at once
REFILL_BELOW = 50  # rows in hand below which the pump claims more at once
WRITE_AT = 200  # outcomes waiting that are written at once
# Seconds an outcome may wait for a batch (its chat's next row waits for it). It bounds what a
# kill -9 sends twice: the sends in flight plus this long of sending (at 180/s, 36 rows).
WRITE_EVERY = 0.2
CONCURRENCY = 8  # sends in flight at once: enough to reach the rate limit over a slow link


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
        masker: Masker | None = None,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.renderer = renderer
        self.clock = clock
        self.policy = policy or SenderPolicy()
        self.limiter = limiter or RateLimiter(30.0, 1.0)
        self.random = random
        self.sender_id = sender_id or new_sender_id()
        self.on_outcome = on_outcome  # "sent", "retry", "dead" or "lost": for the metrics
        self.masker = masker or Masker()  # the app's, with its secrets (bot/factory.py)
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._passes = itertools.count(1)
        self.lost_claims = 0  # outcomes not written and queued rows dropped: the claim was lost
        self.lease: SenderLease | None = None  # several replicas: only its holder sends

    def leading(self) -> bool:
        """This process may send: it holds the sender's lease, or sends without one."""
        return self.lease is None or self.lease.ready()

    def claim_token(self) -> str:
        """The owner a new pass writes into its claims (claimed_by holds 64 characters)."""
        return f"{self.sender_id[:52]}/{next(self._passes)}"

    def kick(self) -> None:
        """Ask the running loop to deliver now (called after a commit that wrote rows)."""
        self._wake.set()

    async def flush(self) -> int:
        """Deliver every due row once (until a 429 or the open breaker stops the pass);
        returns how many were sent. Nothing while another replica is the sender."""
        if not self.leading():
            return 0
        async with self._lock:
            drain = _Pass(self, ())
            await drain.run()
            return drain.sent

    async def send_now(self, ids: Sequence[int]) -> list[Outcome]:
        """Try these rows at once if they are due and unclaimed (the admin's "retry now").

        No lock: the claim keeps a running flush from sending the same rows, the shared
        limiter keeps both within the limits, and an admin should not wait for a long drain.
        Another replica is the sender: nothing here (the rows stay due, the sender's next poll
        takes them), so its budget stays the bot's only one."""
        return await _Pass(self, ids).run() if ids and self.leading() else []

    async def run(self, poll_seconds: float, lease: SenderLease | None = None) -> None:
        """Deliver forever: on every kick, every `poll_seconds` for rows that came due, and the
        moment a 429's pause is over. With `lease`: only while this replica holds it."""
        if lease is not None:
            self.lease = lease
            keeper = asyncio.create_task(lease.keep(self.kick), name="outbox-lease")
            try:
                return await self.run(poll_seconds)
            finally:
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)
        while True:
            try:
                await self.flush()
            except Exception:
                logger.exception("outbox flush failed; will try again")
            paused = self.limiter.paused_for()
            if paused > 0:
                await self.limiter.sleep(paused)  # a timer: held-back rows go out at once
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll_seconds)
            self._wake.clear()

    async def deliver(self, row: PendingNotification) -> Change | None:
        """Send one row and decide what to write (outbox/delivery.py); None: the breaker is
        open, nothing was sent. A 429 also pauses the limiter, before anything else can start."""
        return await deliver(
            self.bot,
            row,
            self.renderer,
            self.limiter,
            self.masker,
            self.policy,
            self.random,
            self.clock.now,
        )


class _Pass:
    """One pass of the pump: claim, start sends within the limits, write outcomes in batches."""

    def __init__(self, sender: OutboxSender, only: Sequence[int]) -> None:
        self.sender = sender
        self.limiter = sender.limiter
        self.owner = sender.claim_token()
        self.only = list(only)
        self.hand: list[PendingNotification] = []  # claimed, not started; first goes first
        self.tasks: set[asyncio.Task[None]] = set()
        self.flying: set[int] = set()  # ids of the rows being sent
        self.renew_at: datetime | None = None  # when the oldest claim held is a third gone
        self.changes: list[Change] = []  # outcomes not yet written
        self.oldest_change = 0.0
        # The outcomes, for "retry now" (a few rows); a drain only counts what it sent, since
        # one pass may go on through a queue of any length.
        self.reported: list[Outcome] = []
        self.sent = 0
        self.stopped = False  # a 429 or the open breaker: start nothing more
        self.more = True  # a claim may find rows
        self.changed = asyncio.Event()

    async def run(self) -> list[Outcome]:
        try:
            await self._pump()
        finally:
            # Cancelled (the process is going down) or failed: what was sent is written and
            # the rest released, so a successor neither repeats nor waits for a claim.
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.shield(self._sync(claim=False, release=True))
        return self.reported

    async def _pump(self) -> None:
        while True:
            self.stopped = self.stopped or not self.sender.leading()  # the lease was lost
            if self._renew_due():
                await self._sync(claim=False)
                continue
            if not self.stopped and self.more and len(self.hand) < REFILL_BELOW:
                await self._sync(claim=True)
                continue
            timeout: float | None = None
            if not self.stopped and self.hand and len(self.tasks) < CONCURRENCY:
                row, ready_at = self._pick()
                if row is not None:
                    await self._start(row)
                    continue
                timeout = max(0.0, ready_at - self.limiter.now())
            # Nothing may start now: a good moment to write what finished, and claim more.
            if self._write_due():
                await self._sync(claim=not self.stopped and self.more)
                continue
            if not self.tasks and (self.stopped or not self.hand):
                return
            if self.changes:  # wake in time to write them
                left = self.oldest_change + WRITE_EVERY - self.limiter.now()
                timeout = left if timeout is None else min(timeout, left)
            renew_in = None  # and to renew the claims, however slow the sends
            if self.renew_at is not None:
                renew_in = (self.renew_at - self.sender.clock.now()).total_seconds()
            await self._wait(timeout, renew_in)

    def _renew_due(self) -> bool:
        return self.renew_at is not None and self.sender.clock.now() >= self.renew_at

    def _write_due(self) -> bool:
        """Outcomes are written in batches: when many wait, when one has waited long enough
        (its chat's next row waits for it), or when nothing is left to send."""
        if not self.changes:
            return False
        if len(self.changes) >= WRITE_AT or (not self.tasks and (self.stopped or not self.hand)):
            return True
        return self.limiter.now() - self.oldest_change >= WRITE_EVERY - EPSILON

    def _pick(self) -> tuple[PendingNotification | None, float]:
        """The first row in hand whose chat may start now, else when the earliest one may."""
        now = self.limiter.now()
        earliest = float("inf")
        for index, row in enumerate(self.hand):
            at = self.limiter.ready_at(row.recipient.telegram_id)
            if at <= now + EPSILON:
                return self.hand.pop(index), now
            earliest = min(earliest, at)
        return None, earliest

    async def _start(self, row: PendingNotification) -> None:
        self.flying.add(row.id)
        self.tasks.add(asyncio.create_task(self._send(row)))
        await asyncio.sleep(0)  # let it take its slot before the next pick looks at the slots

    async def _send(self, row: PendingNotification) -> None:
        # The slot is taken here, right before the request leaves, not when the row was
        # picked: the arrival Telegram counts is then as close as can be to the start counted.
        if not self.limiter.start(row.recipient.telegram_id):
            bisect.insort(self.hand, row, key=_order)  # a pause came first: it waits too
            self._done(row)
            return
        try:
            change = await self.sender.deliver(row)
        except Exception:  # a bug here must not lose the row: it is released untouched
            logger.exception("notification %s: the send failed unexpectedly", row.id)
            change = None
        except BaseException:
            self.flying.discard(row.id)
            raise
        if change is None:
            self.stopped = True
            bisect.insort(self.hand, row, key=_order)  # not sent: released with the rest
        else:
            if not self.changes:
                self.oldest_change = self.limiter.now()
            self.changes.append(change)
            if change.outcome is None:  # a 429: the limiter is paused, this pass ends
                self.stopped = True
        self._done(row)

    def _done(self, row: PendingNotification) -> None:
        self.flying.discard(row.id)
        task = asyncio.current_task()
        if task is not None:
            self.tasks.discard(task)
        self.changed.set()

    async def _wait(self, timeout: float | None, renew_in: float | None) -> None:
        """Until a send finishes, `timeout` passes on the limiter's time, or `renew_in` real
        seconds (the claims' timer: a simulated limiter's sleep may jump its time at once)."""
        self.changed.clear()
        waits: set[asyncio.Future[object]] = {asyncio.ensure_future(self.changed.wait())}
        if timeout is not None:
            waits.add(asyncio.ensure_future(self.limiter.sleep(timeout)))
        if renew_in is not None:
            waits.add(asyncio.ensure_future(asyncio.sleep(max(0.0, renew_in))))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    async def _sync(self, *, claim: bool, release: bool = False) -> None:
        """Write the outcomes waiting, renew the claims held when due and claim more rows,
        in one transaction."""
        changes = list(self.changes)  # sends finishing meanwhile add to the list
        sender = self.sender
        now = sender.clock.now()
        wanted = BATCH_SIZE - len(self.hand) if claim else 0
        left = [row.id for row in self.hand] if release else []
        renew = not release and self._renew_due()
        if not (changes or left or renew or wanted > 0):
            return
        claim_for = timedelta(seconds=sender.policy.claim_seconds)
        held = [row.id for row in self.hand] + sorted(self.flying)
        still: set[int] = set()
        rows: list[PendingNotification] = []
        async with sender.sessionmaker() as session, session.begin():
            repo = NotificationRepository(session)
            lost = set(await repo.record(changes, now, self.owner))
            if left:
                await repo.release(self.owner, left)
            if renew:
                still = set(await repo.renew(self.owner, held, now + claim_for))
            if wanted > 0:
                ids = await repo.claim(
                    owner=self.owner, now=now, until=now + claim_for, limit=wanted, ids=self.only
                )
                rows = list(await repo.load(ids)) if ids else []
        # Only now, committed, are they written: a pass cancelled earlier still holds them.
        del self.changes[: len(changes)]
        if self.changes:
            self.oldest_change = self.limiter.now()
        if release:
            self.hand = []
        if renew:
            lost.update(self._renewed(still, now + claim_for / 3))
        if rows and self.renew_at is None:
            self.renew_at = now + claim_for / 3
        if not self.hand and not self.flying and not rows:
            self.renew_at = None  # nothing held: nothing to renew
        self._count(changes, lost)
        if claim:
            # Writing outcomes frees their chats' next rows; a short claim found all there was.
            self.more = len(rows) == wanted
            self.hand = sorted([*self.hand, *rows], key=_order)
        elif changes:
            self.more = True

    def _renewed(self, still: set[int], next_renewal: datetime) -> list[int]:
        """After a renewal: a queued row whose claim another sender took is theirs to send, so
        it is dropped unsent; returns the ids dropped."""
        dropped = [row.id for row in self.hand if row.id not in still]
        self.hand = [row for row in self.hand if row.id in still]
        self.renew_at = next_renewal
        return dropped

    def _count(self, changes: list[Change], lost: set[int]) -> None:
        """Count what was written, and the claims lost (their outcome, if any, not written)."""
        sender = self.sender
        if lost:
            sender.lost_claims += len(lost)
            logger.warning(
                "outbox: %s claims lost (expired and taken by another sender): "
                "rows %s left as they are",
                len(lost),
                sorted(lost)[:20],
            )
        for change in changes:
            if change.row_id in lost:
                sender.on_outcome("lost")
                continue
            sender.on_outcome(change.metric)
            if change.outcome is None:
                continue
            self.sent += change.outcome.status is NotificationStatus.SENT
            if self.only:
                self.reported.append(change.outcome)


def _order(row: PendingNotification) -> tuple[int, int]:
    return -row.priority, row.id
