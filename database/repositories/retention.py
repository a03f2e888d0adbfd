"""What retention deletes, table by table, one chunk at a time; each returns how many rows went.

Each function deletes at most `limit` rows, oldest ids first (`DELETE ... WHERE id IN (SELECT id
... ORDER BY id LIMIT n)`, which SQLite and PostgreSQL both run), so the caller commits each
chunk on its own and a long backlog never holds one long transaction (services/retention.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from database.models import (
    Confirmation,
    ErrorOccurrence,
    ErrorRecord,
    HandledUpdate,
    SystemHealthSnapshot,
    TransactionLog,
)


def _deleted(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def _delete_chunk(
    session: AsyncSession, model: Any, where: ColumnElement[bool], limit: int
) -> int:
    chosen = select(model.id).where(where).order_by(model.id).limit(limit)
    result = await session.execute(
        delete(model).where(model.id.in_(chosen.scalar_subquery())),
        execution_options={"synchronize_session": False},
    )
    return _deleted(result)


async def delete_old_occurrences(session: AsyncSession, before: datetime, limit: int) -> int:
    """Occurrences older than `before`, whether their record is open or resolved: the record
    keeps its count and first/last seen, only the per-person rows go."""
    return await _delete_chunk(
        session, ErrorOccurrence, ErrorOccurrence.occurred_at < before, limit
    )


async def delete_resolved_errors(session: AsyncSession, before: datetime, limit: int) -> int:
    """Records resolved before `before` (open ones are never deleted here). Their occurrences
    go with them (ON DELETE CASCADE), by then few: older ones went first."""
    where = ErrorRecord.resolved_at.is_not(None) & (ErrorRecord.resolved_at < before)
    return await _delete_chunk(session, ErrorRecord, where, limit)


async def delete_transaction_log(session: AsyncSession, before: datetime, limit: int) -> int:
    return await _delete_chunk(session, TransactionLog, TransactionLog.created_at < before, limit)


async def delete_confirmations(session: AsyncSession, expired_before: datetime, limit: int) -> int:
    return await _delete_chunk(
        session, Confirmation, Confirmation.expires_at < expired_before, limit
    )


async def delete_health_snapshots(session: AsyncSession, before: datetime, limit: int) -> int:
    return await _delete_chunk(
        session, SystemHealthSnapshot, SystemHealthSnapshot.taken_at < before, limit
    )


async def delete_handled_updates(session: AsyncSession, before: datetime, limit: int) -> int:
    """Webhook claims taken before `before`: Telegram no longer delivers those updates."""
    return await _delete_chunk(session, HandledUpdate, HandledUpdate.claimed_at < before, limit)
