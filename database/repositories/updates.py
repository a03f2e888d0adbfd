"""The claims on webhook updates (`handled_updates`): take one, finish it, let it go.

Every write is conditional on the row's state (and on the claim's token), so two deliveries
of one update on two replicas agree on which of them handles it, whatever the timing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from database.models import HandledUpdate


class Claim(StrEnum):
    TAKEN = "taken"  # this delivery handles the update
    DONE = "done"  # handled already: answer 200 and do nothing
    BUSY = "busy"  # another delivery is handling it now: answer non-2xx, Telegram retries


def _changed(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def claim(
    session: AsyncSession, update_id: int, token: str, now: datetime, stale_before: datetime
) -> Claim:
    """Insert the claim; when the update has one, take it over only if it is unfinished and
    was claimed before `stale_before` (its process died mid-update)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    inserted = await session.execute(
        dialect.insert(HandledUpdate)
        .values(id=update_id, token=token, claimed_at=now, done_at=None)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    if _changed(inserted):
        return Claim.TAKEN
    taken = await session.execute(
        update(HandledUpdate)
        .where(
            HandledUpdate.id == update_id,
            HandledUpdate.done_at.is_(None),
            HandledUpdate.claimed_at < stale_before,
        )
        .values(token=token, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if _changed(taken):
        return Claim.TAKEN
    done_at = await session.scalar(
        select(HandledUpdate.done_at).where(HandledUpdate.id == update_id)
    )
    # No row: released between our insert and this read; the next delivery takes it.
    return Claim.DONE if done_at is not None else Claim.BUSY


async def finish(session: AsyncSession, update_id: int, token: str, now: datetime) -> bool:
    """Mark the update handled; False when the claim was taken over meanwhile."""
    result = await session.execute(
        update(HandledUpdate)
        .where(HandledUpdate.id == update_id, HandledUpdate.token == token)
        .values(done_at=now)
        .execution_options(synchronize_session=False)
    )
    return _changed(result) == 1


async def release(session: AsyncSession, update_id: int, token: str) -> bool:
    """Drop an unfinished claim, so the update's next delivery is handled."""
    result = await session.execute(
        delete(HandledUpdate)
        .where(
            HandledUpdate.id == update_id,
            HandledUpdate.token == token,
            HandledUpdate.done_at.is_(None),
        )
        .execution_options(synchronize_session=False)
    )
    return _changed(result) == 1
