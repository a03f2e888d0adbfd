"""Error records and their occurrences: the lists, the lookups by reference, the statistics.

The windowed counts read ix_error_occurrences_occurred_at (occurred_at, error_id) as an
index-only range scan and join the few records it names (tests/test_admin_scale.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Subquery, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import ErrorCategory, ErrorSeverity
from database.models import ErrorOccurrence, ErrorRecord

Breakdown = list[tuple[ErrorCategory, ErrorSeverity, int]]


def _per_error_since(since: datetime) -> Subquery:
    """(error_id, n): each error's occurrences since `since`."""
    return (
        select(ErrorOccurrence.error_id, func.sum(ErrorOccurrence.repeats).label("n"))
        .where(ErrorOccurrence.occurred_at >= since)
        .group_by(ErrorOccurrence.error_id)
        .subquery()
    )


class ErrorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def recent(self, limit: int, *, unresolved: bool) -> Sequence[ErrorRecord]:
        query = select(ErrorRecord).order_by(ErrorRecord.last_seen.desc()).limit(limit)
        if unresolved:
            query = query.where(ErrorRecord.resolved_at.is_(None))
        return (await self.session.execute(query)).scalars().all()

    async def page(
        self, offset: int, limit: int, *, unresolved: bool
    ) -> tuple[Sequence[ErrorRecord], int]:
        """The most recently seen records, and how many there are."""
        query = select(ErrorRecord)
        if unresolved:
            query = query.where(ErrorRecord.resolved_at.is_(None))
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await self.session.execute(
            query.order_by(ErrorRecord.last_seen.desc(), ErrorRecord.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return rows.scalars().all(), int(total or 0)

    async def by_reference(self, code: str) -> ErrorRecord | None:
        """The record with this reference, or the one whose occurrence has it."""
        record = await self.session.scalar(
            select(ErrorRecord).where(ErrorRecord.reference == code)
        )
        if record is not None:
            return record
        return await self.session.scalar(
            select(ErrorRecord)
            .join(ErrorOccurrence, ErrorOccurrence.error_id == ErrorRecord.id)
            .where(ErrorOccurrence.reference == code)
        )

    async def locked_open(self, fingerprint: str) -> ErrorRecord | None:
        """The fingerprint's unresolved record, row-locked and read afresh."""
        query = (
            select(ErrorRecord)
            .where(ErrorRecord.fingerprint == fingerprint, ErrorRecord.resolved_at.is_(None))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def newest_of_person(
        self, error_id: int, user_id: int | None, since: datetime, limit: int
    ) -> list[str]:
        """References of the record's occurrences of one person (None: of no person, a job's)
        since `since`, newest first, at most `limit` (the cap on what one person stores).

        Ranges over ix_error_occurrences_occurred_at: a minute's rows, not the record's all."""
        person = ErrorOccurrence.context["user_id"].as_integer()
        query = (
            select(ErrorOccurrence.reference)
            .where(
                ErrorOccurrence.occurred_at >= since,
                ErrorOccurrence.error_id == error_id,
                person.is_(None) if user_id is None else person == user_id,
            )
            .order_by(ErrorOccurrence.occurred_at.desc(), ErrorOccurrence.id.desc())
            .limit(limit)
        )
        return list((await self.session.scalars(query)).all())

    async def add_repeat(self, reference: str) -> None:
        """One more failure for the occurrence row `reference` stands for (past the cap)."""
        await self.session.execute(
            update(ErrorOccurrence)
            .where(ErrorOccurrence.reference == reference)
            .values(repeats=ErrorOccurrence.repeats + 1)
        )

    async def count_retry(self, fingerprint: str) -> None:
        await self.session.execute(
            update(ErrorRecord)
            .where(ErrorRecord.fingerprint == fingerprint, ErrorRecord.resolved_at.is_(None))
            .values(retry_count=ErrorRecord.retry_count + 1)
        )

    async def totals_since(self, since: datetime) -> Breakdown:
        """Occurrences since `since` per (category, severity), summed over the per-error
        counts (the statistics screen)."""
        recent = _per_error_since(since)
        rows = await self.session.execute(
            select(ErrorRecord.category, ErrorRecord.severity, func.sum(recent.c.n))
            .join(recent, recent.c.error_id == ErrorRecord.id)
            .group_by(ErrorRecord.category, ErrorRecord.severity)
        )
        return [(category, severity, int(n)) for category, severity, n in rows]

    async def most_frequent_since(
        self, since: datetime, top: int
    ) -> list[tuple[ErrorRecord, int]]:
        """The `top` records with the most occurrences since `since`, and that number."""
        recent = _per_error_since(since)
        rows = await self.session.execute(
            select(ErrorRecord, recent.c.n)
            .join(recent, recent.c.error_id == ErrorRecord.id)
            .order_by(recent.c.n.desc(), ErrorRecord.last_seen.desc())
            .limit(top)
        )
        return [(record, int(n)) for record, n in rows]

    async def breakdown_since(self, since: datetime) -> Breakdown:
        """Occurrences since `since` per (category, severity), counted by a plain join (the
        health check)."""
        rows = await self.session.execute(
            select(ErrorRecord.category, ErrorRecord.severity, func.sum(ErrorOccurrence.repeats))
            .select_from(ErrorOccurrence)
            .join(ErrorRecord, ErrorRecord.id == ErrorOccurrence.error_id)
            .where(ErrorOccurrence.occurred_at >= since)
            .group_by(ErrorRecord.category, ErrorRecord.severity)
        )
        return [(category, severity, int(n)) for category, severity, n in rows.all()]
