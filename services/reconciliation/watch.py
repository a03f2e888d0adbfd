"""The reconciliation watch: a cheap look every few seconds that decides when to call the full
applied run early; the full run stays the judge of what is wrong and what is fixed.

It reads two things, neither an aggregate over the ledger:
- the items whose cached figure disagrees with `ledger_balance` (the committed ledger's sum,
  kept by triggers: database/models/balances.py) or whose figure or balance is negative: one
  pass over the items table;
- the ledger rows above a watermark (a primary-key range), each checked by index lookups: its
  request missing, rejected or cancelled, its request line issued twice.

A key not seen at the previous watch calls `run(apply=True, trigger="watch")`; a key that stays
(negative stock left for an admin) calls nothing again; `seen` holds only the last watch's
keys, and a watch reads at most `BATCH` ledger rows. The watermark lives in memory: the first
watch after start-up makes one full run instead of reading the whole ledger, and starts from
the ledger's last id. What it cannot see (a request closed after its movement, a pending
row gone stale) is the hourly run's, which stays as the safety net.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.enums import RequestStatus, TransactionKind, TransactionStatus
from database.repositories.reconciliation import ReconciliationRepository, Watched
from services.reconciliation.findings import Report

logger = logging.getLogger(__name__)

CLOSED = (RequestStatus.REJECTED, RequestStatus.CANCELLED)
# Ledger rows read per watch, at most: a bulk import between two watches is read over the next
# few watches (the watermark moves on by what was read) instead of all at once into memory.
BATCH = 5000


class Busy(Exception):
    """The run was refused (another run holds the lock): the watch tries again next time."""


@dataclass(frozen=True)
class WatchResult:
    suspicious: frozenset[str]  # every key this watch saw
    new: frozenset[str]  # those the previous watch had not seen
    report: Report | None = None  # the run it called, if any
    busy: bool = False  # it wanted a run and another one was in progress


class LedgerWatch:
    """State of one process: the watermark and the keys of the previous watch. One watch at a
    time (the scheduler's job runs with max_instances=1)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        pending_max_age: timedelta,
        run: Callable[[], Awaitable[Report]],
        *,
        batch: int = BATCH,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.pending_max_age = pending_max_age
        self._run = run
        self.batch = batch
        self.watermark: int | None = None  # None: not started, the first watch runs in full
        self.seen: frozenset[str] = frozenset()

    async def watch(self) -> WatchResult:
        if self.watermark is None:
            return await self._start()
        async with self.sessionmaker() as session:
            repo = ReconciliationRepository(session)
            items = _item_keys(await repo.drifted_items())
            rows = await repo.movements_after(self.watermark, self.batch)
            twice = await repo.lines_issued_twice(
                {r.request_item_id for r in rows if _issue(r) and r.request_item_id is not None}
            )
        ledger = _ledger_keys(rows, twice)
        keys = items | ledger
        new = keys - self.seen
        report = None
        if new:
            logger.info("reconciliation watch: %s new, running: %s", len(new), sorted(new))
            try:
                report = await self._run()
            except Busy:
                # Nothing recorded: the same keys are new again at the next watch.
                return WatchResult(keys, new, busy=True)
            async with self.sessionmaker() as session:
                after = _item_keys(await ReconciliationRepository(session).drifted_items())
            # The run has judged these: what it left (for an admin) is not news next time.
            keys = after | ledger
        self.seen, self.watermark = keys, self._next_watermark(rows)
        return WatchResult(keys, new, report)

    async def _start(self) -> WatchResult:
        async with self.sessionmaker() as session:
            top = await ReconciliationRepository(session).last_movement_id()
        try:
            report = await self._run()
        except Busy:
            return WatchResult(frozenset(), frozenset(), busy=True)
        async with self.sessionmaker() as session:
            keys = _item_keys(await ReconciliationRepository(session).drifted_items())
        # Rows written during the run are above `top`: the next watch reads them.
        self.seen, self.watermark = keys, top
        return WatchResult(keys, frozenset(), report)

    def _next_watermark(self, rows: list[Watched]) -> int:
        """The last row read, but not past a recent pending row: its commit is an UPDATE, not a
        new id, and the watch must look at it again then. A pending row older than the pending
        limit no longer holds it (the full run reports it as stale)."""
        assert self.watermark is not None
        if not rows:
            return self.watermark
        recent = self.clock.now() - self.pending_max_age
        waiting = [
            r.id for r in rows if r.status is TransactionStatus.PENDING and r.created_at >= recent
        ]
        return min(waiting) - 1 if waiting else rows[-1].id


def _issue(r: Watched) -> bool:
    committed = r.status is TransactionStatus.COMMITTED
    return committed and r.kind is TransactionKind.ISSUE and not r.reversed


def _item_keys(rows: list[tuple[int, int, int]]) -> frozenset[str]:
    keys = set()
    for item_id, stock, balance in rows:
        if stock != balance:
            keys.add(f"stock_mismatch:item:{item_id}")
        if stock < 0 or balance < 0:
            keys.add(f"negative_stock:item:{item_id}")
    return frozenset(keys)


def _ledger_keys(rows: list[Watched], twice: set[int]) -> frozenset[str]:
    """The new rows' suspicious keys, named like the findings' fingerprints."""
    keys = set()
    for r in rows:
        standing = (
            r.status is TransactionStatus.COMMITTED
            and r.kind is not TransactionKind.REVERSAL
            and not r.reversed
        )
        gone = not r.request_exists or r.request_status in CLOSED
        if standing and r.request_id is not None and gone:
            keys.add(f"orphan:tx:{r.id}")
        if _issue(r) and r.request_item_id in twice:
            keys.add(f"duplicate:line:{r.request_item_id}")
    return frozenset(keys)
