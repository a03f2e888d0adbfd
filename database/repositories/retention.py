"""What retention deletes, table by table; each returns how many rows went."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from database.models import Confirmation, ErrorRecord, SystemHealthSnapshot, TransactionLog


def _deleted(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def delete_resolved_errors(session: AsyncSession, before: datetime) -> int:
    """Records resolved before `before` (open ones are never deleted here)."""
    result = await session.execute(
        delete(ErrorRecord).where(
            ErrorRecord.resolved_at.is_not(None),
            ErrorRecord.resolved_at < before,
        )
    )
    return _deleted(result)


async def delete_transaction_log(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(
        delete(TransactionLog).where(TransactionLog.created_at < before)
    )
    return _deleted(result)


async def delete_confirmations(session: AsyncSession, expired_before: datetime) -> int:
    result = await session.execute(
        delete(Confirmation).where(Confirmation.expires_at < expired_before)
    )
    return _deleted(result)


async def delete_health_snapshots(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(
        delete(SystemHealthSnapshot).where(SystemHealthSnapshot.taken_at < before)
    )
    return _deleted(result)
