"""Reading the trigger-kept row counts (database/models/counts.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from database.models import RowCount


async def kept_count(session: AsyncSession, name: str) -> int | None:
    """The counter's figure; None when it has no row (nothing was ever counted there)."""
    found = await session.scalar(select(RowCount.row_count).where(RowCount.name == name))
    return None if found is None else int(found)
