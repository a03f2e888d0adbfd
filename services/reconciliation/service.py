"""Inventory reconciliation: the committed ledger is the source of truth for stock.

A run detects discrepancies with a few set-based queries, and when applying fixes the safe ones
(stock figure recomputed from the ledger; an orphaned or duplicated movement reversed by a
compensating row, history never deleted) and leaves the rest for an admin. Two runs never
overlap: an asyncio lock in this process and, on PostgreSQL, a session advisory lock shared by
every process (SQLite's BEGIN IMMEDIATE already serialises writers across processes).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import Clock
from core.enums import (
    DiscrepancyKind,
    FindingStatus,
    Role,
    TransactionKind,
    TransactionStatus,
)
from core.exceptions import DomainError, NotFound, ValidationFailed
from core.i18n import N_
from database.locks import try_lock
from database.models import (
    InventoryItem,
    InventoryTransaction,
    ReconciliationLog,
    ReconciliationRun,
)
from database.repositories.inventory import InventoryRepository
from database.repositories.reconciliation import ReconciliationRepository
from database.repositories.users import UserRepository
from outbox.payloads import ReconciliationAlert
from outbox.repository import enqueue
from services.reconciliation.findings import FIX, K, Override, Report, detect, scope
from services.reconciliation.rows import log_row, reversal, sku_names
from services.reconciliation.watch import Busy, LedgerWatch, WatchResult
from services.transactions import Change, TransactionalStateManager
from services.users import acting, is_admin

logger = logging.getLogger(__name__)

MAX_REASON = 500
# Whoever changes stock from a screen must be an active admin when it is applied (checked in the
# applying transaction); the staff screens say the same words earlier (handlers/admin/access.py).
CHANGE_INVENTORY = N_("Only admins can change inventory. Support can only look.")


class ReconciliationBusy(DomainError):
    message = N_("A reconciliation run is already in progress. Try again in a minute.")


class CountChanged(DomainError):
    """The item is not as the confirmation showed it: its figure or its ledger moved."""

    message = N_("The item changed since it was shown. Count it again.")

    def __init__(self, stock: int, balance: int) -> None:
        super().__init__()
        self.stock, self.balance = stock, balance


class ReconciliationService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        engine: AsyncEngine,
        tx: TransactionalStateManager,
        clock: Clock,
        pending_max_age: timedelta,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.engine = engine
        self.tx = tx
        self.clock = clock
        self.pending_max_age = pending_max_age
        self._lock = asyncio.Lock()
        self._watch = LedgerWatch(sessionmaker, clock, pending_max_age, self._watch_run)

    # -- running ----------------------------------------------------------------------------

    async def run(
        self,
        *,
        apply: bool = False,
        item_id: int | None = None,
        actor_id: int | None = None,
        trigger: str = "admin",
        only: Collection[str] | None = None,
    ) -> Report:
        """Refuses at once (ReconciliationBusy) while another run holds the lock.

        `only`: the signatures of the findings a confirmed preview showed. Exactly those
        that still hold are applied; a previewed finding that is gone is skipped and a new
        (or changed) one is left alone, and the report counts both. None: apply all (the
        scheduled job, the command line's --apply)."""
        previewed = None if only is None else frozenset(only)
        async with self.exclusive():
            if not apply:
                return await self._preview(item_id)
            return await self.tx.run(
                "reconcile_inventory",
                "inventory",
                lambda change: self._apply(change, item_id, actor_id, trigger, previewed),
                actor_id=actor_id,
            )

    async def run_for_sku(self, sku: str, *, apply: bool, trigger: str) -> Report:
        async with self.sessionmaker() as session:
            item = await ReconciliationRepository(session).item_by_sku(sku)
        if item is None:
            raise NotFound(N_("No item with SKU {sku}."), sku=sku)
        return await self.run(apply=apply, item_id=item.id, trigger=trigger)

    async def watch(self) -> WatchResult:
        """The cheap look (services/reconciliation/watch.py): a full applied run only when it
        sees something new."""
        return await self._watch.watch()

    async def _watch_run(self) -> Report:
        try:
            return await self.run(apply=True, trigger="watch")
        except ReconciliationBusy as exc:
            raise Busy from exc

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        if self._lock.locked():
            raise ReconciliationBusy()
        # In this process an asyncio lock; across processes on PostgreSQL the advisory lock of
        # database/locks.py, held for the whole run (which spans several transactions).
        async with self._lock, try_lock(self.engine, "inventory_reconciliation") as got:
            if not got:
                raise ReconciliationBusy()
            yield

    async def _preview(self, item_id: int | None) -> Report:
        async with self.sessionmaker() as session:
            findings = await detect(session, scope(item_id), pending_before=self._pending_before())
            return Report(applied=False, findings=findings)

    async def _apply(
        self,
        change: Change,
        item_id: int | None,
        actor_id: int | None,
        trigger: str,
        previewed: frozenset[str] | None,
    ) -> Report:
        session, now = change.session, self.clock.now()
        if actor_id is not None:  # a person's press; the command line and the jobs have none
            await acting(session, actor_id, is_admin, CHANGE_INVENTORY)
        repo = ReconciliationRepository(session)
        first = await detect(session, scope(item_id), pending_before=self._pending_before())
        affected = sorted({f.item_id for f in first})
        # Lock what is about to change, then look again: a request issued meanwhile has
        # committed by now and its movement is counted (PostgreSQL reads committed data).
        items = await InventoryRepository(session).lock_items(affected) if affected else {}
        current = (
            await detect(session, affected, pending_before=self._pending_before())
            if affected
            else []
        )
        findings, vanished, unseen = current, 0, 0
        if previewed is not None:
            findings = [f for f in current if f.signature in previewed]
            vanished = len(previewed - {f.signature for f in current})
            unseen = len(current) - len(findings)
        run = ReconciliationRun(
            trigger=trigger,
            actor_id=actor_id,
            item_id=item_id,
            findings=len(findings),
            fixed=sum(1 for f in findings if not f.needs_admin),
            needs_admin=sum(1 for f in findings if f.needs_admin),
            started_at=now,
            finished_at=now,
        )
        session.add(run)
        await session.flush()
        reversed_by_item: defaultdict[int, int] = defaultdict(int)
        for f in findings:
            if f.action is FIX.REVERSE_MOVEMENT:
                assert f.transaction_id is not None and f.actual is not None
                session.add(reversal(f, run.id, actor_id, now))
                reversed_by_item[f.item_id] -= f.actual
        for item_id_, delta in reversed_by_item.items():
            items[item_id_].stock += delta
        for f in findings:
            if f.action is FIX.RECOMPUTE_STOCK:
                assert f.expected is not None
                items[f.item_id].stock = f.expected + reversed_by_item[f.item_id]
            if f.action is FIX.RECOMPUTE_STOCK or f.action is FIX.REVERSE_MOVEMENT:
                items[f.item_id].updated_at = now
        open_rows = await repo.open_findings(scope(item_id))
        seen = {f.fingerprint for f in current}  # still there, previewed or not
        gone = [r.id for r in open_rows if r.fingerprint not in seen]
        await repo.resolve(gone, now)
        new_rows = [
            log_row(f, run.id, actor_id, now) for f in findings if f.is_new or not f.needs_admin
        ]
        session.add_all(new_rows)
        await session.flush()
        await self._alert(session, [r for r in new_rows if r.status is FindingStatus.NEEDS_ADMIN])
        run.finished_at = self.clock.now()
        change.entity_id = run.id
        change.after = {
            "run_id": run.id,
            "item_id": item_id,
            "by_kind": {k.value: n for k, n in Counter(f.kind for f in findings).items()},
            "fixed": run.fixed,
            "needs_admin": run.needs_admin,
            "resolved": len(gone),
        }
        if previewed is not None:  # a confirmed preview: what it no longer covered
            change.after |= {"previewed": len(previewed), "vanished": vanished, "unseen": unseen}
        return Report(
            applied=True,
            findings=findings,
            run_id=run.id,
            resolved=len(gone),
            vanished=vanished,
            unseen=unseen,
        )

    async def _alert(self, session: AsyncSession, rows: list[ReconciliationLog]) -> None:
        if not rows:
            return
        admins = await UserRepository(session).active_holders(Role.ADMIN)
        skus = await sku_names(session, {r.item_id for r in rows if r.item_id is not None})
        for row in rows:
            for admin in admins:
                # One alert per new discrepancy per admin, however often it is seen again.
                await enqueue(
                    session,
                    recipient_id=admin.id,
                    payload=ReconciliationAlert(
                        finding_id=row.id,
                        discrepancy=row.kind,
                        sku=skus.get(row.item_id or 0, "?"),
                        expected=row.expected,
                        actual=row.actual,
                        transaction_id=row.transaction_id,
                    ),
                    idempotency_key=f"reconciliation:{row.id}:{admin.id}",
                    now=self.clock.now(),
                )

    def _pending_before(self) -> datetime:
        return self.clock.now() - self.pending_max_age

    # -- people -----------------------------------------------------------------------------

    async def set_counted(
        self,
        item_id: int,
        counted: int,
        reason: str,
        actor_id: int | None,
        *,
        expect: tuple[int, int] | None = None,
    ) -> Override:
        """Post an adjustment so the ledger says what was physically counted.

        `expect`: the (stock figure, ledger balance) the admin was shown; if either moved
        since, nothing is posted (CountChanged)."""
        reason = reason.strip()
        if counted < 0:
            raise ValidationFailed(N_("The counted quantity must be a whole number, 0 or more."))
        if not reason or len(reason) > MAX_REASON:
            raise ValidationFailed(
                N_("Please give a reason of 1 to {limit} characters."), limit=MAX_REASON
            )

        async def work(change: Change) -> Override:
            session, now = change.session, self.clock.now()
            if actor_id is not None:
                await acting(session, actor_id, is_admin, CHANGE_INVENTORY)
            items = await InventoryRepository(session).lock_items([item_id])
            item = items.get(item_id)
            if item is None:
                raise NotFound(N_("That item no longer exists."))
            repo = ReconciliationRepository(session)
            balance = await repo.ledger_balance(item_id)
            if expect is not None and expect != (item.stock, balance):
                raise CountChanged(item.stock, balance)
            delta = counted - balance
            change.entity_id = item_id
            change.before = {"stock": item.stock, "ledger_balance": balance}
            movement: InventoryTransaction | None = None
            if delta:
                movement = InventoryTransaction(
                    item_id=item_id,
                    kind=TransactionKind.ADJUSTMENT,
                    quantity=delta,
                    status=TransactionStatus.COMMITTED,
                    actor_id=actor_id,
                    reason=f"counted {counted}: {reason}",
                    created_at=now,
                    committed_at=now,
                )
                session.add(movement)
            item.stock, item.updated_at = counted, now
            settled = [
                r.id for r in await repo.open_for_item(item_id) if r.kind is K.NEGATIVE_STOCK
            ]
            await repo.resolve(settled, now)
            await session.flush()
            session.add(
                ReconciliationLog(
                    item_id=item_id,
                    transaction_id=movement.id if movement else None,
                    kind=K.MANUAL_COUNT,
                    fingerprint=f"manual_count:item:{item_id}",
                    expected=balance,
                    actual=counted,
                    action=FIX.POST_ADJUSTMENT,
                    status=FindingStatus.FIXED,
                    actor_id=actor_id,
                    detail=reason,
                    created_at=now,
                    resolved_at=now,
                )
            )
            change.after = {"stock": counted, "adjustment": delta, "reason": reason}
            return Override(
                item_id, item.sku, balance, counted, delta, movement.id if movement else None
            )

        return await self.tx.run("set_counted_quantity", "inventory_item", work, actor_id=actor_id)

    # -- looking ----------------------------------------------------------------------------

    async def open_findings(self, limit: int = 20) -> list[tuple[ReconciliationLog, str]]:
        async with self.sessionmaker() as session:
            rows = await ReconciliationRepository(session).open_findings(limit=limit)
            skus = await sku_names(session, {r.item_id for r in rows if r.item_id is not None})
        return [(r, skus.get(r.item_id or 0, "?")) for r in rows]

    async def open_count(self) -> int:
        async with self.sessionmaker() as session:
            return await ReconciliationRepository(session).open_count()

    async def history(self, limit: int = 10) -> list[ReconciliationRun]:
        async with self.sessionmaker() as session:
            return list(await ReconciliationRepository(session).runs(limit))

    async def last_run(self) -> tuple[ReconciliationRun, Counter[DiscrepancyKind]] | None:
        async with self.sessionmaker() as session:
            repo = ReconciliationRepository(session)
            runs = await repo.runs(1)
            if not runs:
                return None
            return runs[0], Counter(r.kind for r in await repo.run_log(runs[0].id))

    async def item_by_sku(self, sku: str) -> tuple[InventoryItem, int] | None:
        async with self.sessionmaker() as session:
            item = await ReconciliationRepository(session).item_by_sku(sku)
        return None if item is None else await self.item(item.id)

    async def item(self, item_id: int) -> tuple[InventoryItem, int] | None:
        async with self.sessionmaker() as session:
            item = await session.get(InventoryItem, item_id)
            if item is None:
                return None
            return item, await ReconciliationRepository(session).ledger_balance(item_id)
