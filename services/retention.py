"""Retention: old error occurrences (of open records too), resolved error records, old
transaction-log rows, health snapshots, confirmations and the webhook's handled update ids are
deleted after a while.

Each table is trimmed in chunks of `CHUNK` rows, each chunk its own short transaction: a backlog
of a million rows (the first cleanup after a long outage, a flood of errors) never holds one
transaction, nor SQLite's single writer lock, for longer than one chunk takes, so people's
updates go on between chunks. A failure keeps the chunks already committed, and the next run
goes on from there: every chunk deletes by the same condition, so there is no cursor to keep.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from database.repositories import retention
from services.transactions import TransactionalStateManager

# Rows per transaction: a few milliseconds of deleting on either engine, so a person's write
# waits at most that long for the lock; large enough that a commit per chunk costs little.
CHUNK = 1000

# Telegram keeps an update it could not deliver for at most 24 hours: a handled update id older
# than this can never come again, so its row (the webhook's "handled once") can go.
UPDATE_RETENTION = timedelta(hours=48)

Delete = Callable[[AsyncSession, datetime, int], Awaitable[int]]


@dataclass(frozen=True)
class CleanupResult:
    error_records: int
    transaction_log: int
    health_snapshots: int = 0
    confirmations: int = 0
    error_occurrences: int = 0
    handled_updates: int = 0

    def summary(self) -> str:
        # For the log and the command line; an operator's words, not a person's: not translated.
        # Handled updates only when there were some: polling mode never has any.
        updates = (
            f", {self.handled_updates} handled webhook updates" if self.handled_updates else ""
        )
        return (
            f"{self.error_records} resolved error records, "
            f"{self.error_occurrences} old error occurrences, "
            f"{self.transaction_log} transaction log rows, "
            f"{self.health_snapshots} health snapshots and "
            f"{self.confirmations} settled confirmations{updates}"
        )


async def cleanup(
    tx: TransactionalStateManager,
    *,
    error_retention: timedelta,
    transaction_log_retention: timedelta,
    snapshot_retention: timedelta | None = None,
    chunk: int = CHUNK,
) -> CleanupResult:
    """Open error records are kept whatever their age: somebody still has to look at them.
    Their occurrences older than `error_retention` go, as a resolved record's do: what one
    person can make the bot store is bounded, what a record counts is not touched."""
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk!r}")
    now = tx.clock.now()

    async def trim(delete: Delete, before: datetime) -> int:
        total = 0
        while True:
            # Housekeeping, not a state change: the log does not audit its own trimming.
            gone = await tx.run(
                "cleanup",
                "retention",
                lambda change: delete(change.session, before, chunk),
                audited=False,
            )
            total += gone
            if gone < chunk:
                return total

    # Occurrences first: a resolved record's rows then mostly went already, so deleting the
    # record cascades over a few rows, not its whole history in one chunk.
    occurrences = await trim(retention.delete_old_occurrences, now - error_retention)
    errors = await trim(retention.delete_resolved_errors, now - error_retention)
    logs = await trim(retention.delete_transaction_log, now - transaction_log_retention)
    # A confirmation is an account of what an admin was shown: kept as long as the log.
    confirmations = await trim(retention.delete_confirmations, now - transaction_log_retention)
    snapshots = 0
    if snapshot_retention is not None:
        snapshots = await trim(retention.delete_health_snapshots, now - snapshot_retention)
    updates = await trim(retention.delete_handled_updates, now - UPDATE_RETENTION)
    return CleanupResult(
        error_records=errors,
        transaction_log=logs,
        health_snapshots=snapshots,
        confirmations=confirmations,
        error_occurrences=occurrences,
        handled_updates=updates,
    )


async def cleanup_as_configured(
    tx: TransactionalStateManager, settings: Settings
) -> CleanupResult:
    """The cleanup with the retention settings: the scheduled job's and `python -m bot cleanup`."""
    return await cleanup(
        tx,
        error_retention=timedelta(days=settings.error.retention_days),
        transaction_log_retention=timedelta(days=settings.transaction_log_retention_days),
        snapshot_retention=timedelta(days=settings.health.snapshot_retention_days),
    )
