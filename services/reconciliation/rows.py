"""Rows an applied reconciliation run writes: the compensating ledger row, the finding's log
row, and the SKUs its alerts name."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import FindingStatus, TransactionKind, TransactionStatus
from database.models import InventoryTransaction, ReconciliationLog
from database.repositories.inventory import InventoryRepository
from services.reconciliation.findings import Finding


def reversal(f: Finding, run_id: int, actor_id: int | None, now: datetime) -> InventoryTransaction:
    assert f.actual is not None
    return InventoryTransaction(
        item_id=f.item_id,
        kind=TransactionKind.REVERSAL,
        quantity=-f.actual,
        status=TransactionStatus.COMMITTED,
        actor_id=actor_id,
        reason=f"reconciliation run #{run_id}: {f.kind.value}, {f.detail}",
        reverses_id=f.transaction_id,
        created_at=now,
        committed_at=now,
    )


def log_row(f: Finding, run_id: int, actor_id: int | None, now: datetime) -> ReconciliationLog:
    return ReconciliationLog(
        run_id=run_id,
        item_id=f.item_id,
        transaction_id=f.transaction_id,
        kind=f.kind,
        fingerprint=f.fingerprint,
        expected=f.expected,
        actual=f.actual,
        action=f.action,
        status=FindingStatus.NEEDS_ADMIN if f.needs_admin else FindingStatus.FIXED,
        actor_id=actor_id,
        detail=f.detail or None,
        created_at=now,
        resolved_at=None if f.needs_admin else now,
    )


async def sku_names(session: AsyncSession, item_ids: set[int]) -> dict[int, str]:
    return await InventoryRepository(session).skus(item_ids)
