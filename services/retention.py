"""Retention: resolved error records, old transaction-log rows, health snapshots and
confirmations are deleted after a while."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from database.repositories import retention
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
        errors = await retention.delete_resolved_errors(session, now - error_retention)
        logs = await retention.delete_transaction_log(session, now - transaction_log_retention)
        # A confirmation is an account of what an admin was shown: kept as long as the log.
        confirmations = await retention.delete_confirmations(
            session, now - transaction_log_retention
        )
        snapshots = 0
        if snapshot_retention is not None:
            snapshots = await retention.delete_health_snapshots(session, now - snapshot_retention)
        return CleanupResult(
            error_records=errors,
            transaction_log=logs,
            health_snapshots=snapshots,
            confirmations=confirmations,
        )

    # Housekeeping, not a state change: the log does not audit its own trimming.
    return await tx.run("cleanup", "retention", work, audited=False)
