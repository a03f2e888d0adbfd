"""Retention: resolved error records, old transaction-log rows, health snapshots and
confirmations are deleted after a while."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete

from database.models import Confirmation, ErrorRecord, SystemHealthSnapshot, TransactionLog
from services.transactions import Change, TransactionalStateManager


@dataclass(frozen=True)
class CleanupResult:
    error_records: int
    transaction_log: int
    health_snapshots: int = 0
    confirmations: int = 0


async def cleanup(
    tx: TransactionalStateManager,
    *,
    error_retention: timedelta,
    transaction_log_retention: timedelta,
    snapshot_retention: timedelta | None = None,
) -> CleanupResult:
    """Open error records are kept whatever their age: somebody still has to look at them."""
    now = tx.clock.now()

    async def work(change: Change) -> CleanupResult:
        session = change.session
        errors = await session.execute(
            delete(ErrorRecord).where(
                ErrorRecord.resolved_at.is_not(None),
                ErrorRecord.resolved_at < now - error_retention,
            )
        )
        logs = await session.execute(
            delete(TransactionLog).where(
                TransactionLog.created_at < now - transaction_log_retention
            )
        )
        # A confirmation is an account of what an admin was shown: kept as long as the log.
        confirmations = await session.execute(
            delete(Confirmation).where(Confirmation.expires_at < now - transaction_log_retention)
        )
        snapshots = 0
        if snapshot_retention is not None:
            result = await session.execute(
                delete(SystemHealthSnapshot).where(
                    SystemHealthSnapshot.taken_at < now - snapshot_retention
                )
            )
            snapshots = int(getattr(result, "rowcount", 0) or 0)
        return CleanupResult(
            error_records=int(getattr(errors, "rowcount", 0) or 0),
            transaction_log=int(getattr(logs, "rowcount", 0) or 0),
            health_snapshots=snapshots,
            confirmations=int(getattr(confirmations, "rowcount", 0) or 0),
        )

    # Housekeeping, not a state change: the log does not audit its own trimming.
    return await tx.run("cleanup", "retention", work, audited=False)
