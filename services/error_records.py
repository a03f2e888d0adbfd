"""Looking up error records by the reference code people were shown, and resolving them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.enums import ErrorCategory, ErrorSeverity
from core.exceptions import DomainError, NotFound, ValidationFailed
from core.i18n import N_
from database.models import ErrorOccurrence, ErrorRecord
from services.transactions import Change, TransactionalStateManager

MAX_NOTE = 1000


def normalize_reference(text: str) -> str:
    code = text.strip().upper()
    return code if code.startswith("E-") else f"E-{code}"


class ErrorChanged(DomainError):
    """The record is not as it was shown: it recurred, or someone resolved it."""

    message = N_("The error changed since it was shown. Look at it again.")

    def __init__(self, record_id: int) -> None:
        super().__init__()
        self.record_id = record_id


class ErrorService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        tx: TransactionalStateManager,
        clock: Clock,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.tx = tx
        self.clock = clock

    async def find(self, reference: str) -> ErrorRecord | None:
        async with self.sessionmaker() as session:
            return await self._find(session, normalize_reference(reference))

    async def recent(self, limit: int = 20, *, unresolved: bool = True) -> Sequence[ErrorRecord]:
        query = select(ErrorRecord).order_by(ErrorRecord.last_seen.desc()).limit(limit)
        if unresolved:
            query = query.where(ErrorRecord.resolved_at.is_(None))
        async with self.sessionmaker() as session:
            return (await session.execute(query)).scalars().all()

    async def page(
        self, offset: int, limit: int, *, unresolved: bool = True
    ) -> tuple[Sequence[ErrorRecord], int]:
        """The most recently seen records, and how many there are (open ones only unless
        `unresolved` is False)."""
        query = select(ErrorRecord)
        if unresolved:
            query = query.where(ErrorRecord.resolved_at.is_(None))
        async with self.sessionmaker() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await session.execute(
                query.order_by(ErrorRecord.last_seen.desc(), ErrorRecord.id.desc())
                .offset(offset)
                .limit(limit)
            )
            return rows.scalars().all(), int(total or 0)

    async def stats(self, since: datetime) -> ErrorStats:
        return await error_stats(self.sessionmaker, since)

    async def get(self, record_id: int) -> ErrorRecord | None:
        async with self.sessionmaker() as session:
            return await session.get(ErrorRecord, record_id)

    async def resolve(
        self,
        reference: str,
        actor_id: int | None,
        note: str,
        *,
        expect_count: int | None = None,
    ) -> ErrorRecord:
        """`expect_count`: the count the admin was shown; a record that recurred since (or
        was resolved by someone else) is left as it is (ErrorChanged)."""
        note = note.strip()
        if not note:
            raise ValidationFailed(N_("Please add a note saying how it was resolved."))
        if len(note) > MAX_NOTE:
            raise ValidationFailed(
                N_("The note is too long: at most {limit} characters."), limit=MAX_NOTE
            )
        code = normalize_reference(reference)

        async def work(change: Change) -> ErrorRecord:
            record = await self._find(change.session, code)
            if record is None:
                raise NotFound(N_("No error with reference {reference}."), reference=code)
            if expect_count is not None and (
                record.count != expect_count or record.resolved_at is not None
            ):
                raise ErrorChanged(record.id)
            change.entity_id = record.id
            change.before = {"resolved_at": None, "count": record.count}
            if record.resolved_at is None:
                record.resolved_at = self.clock.now()
                record.resolved_by_id = actor_id
                record.resolution_note = note
            change.after = {"resolved_at": record.resolved_at.isoformat(), "note": note}
            return record

        return await self.tx.run("resolve_error", "error_record", work, actor_id=actor_id)

    @staticmethod
    async def _find(session: AsyncSession, code: str) -> ErrorRecord | None:
        record = await session.scalar(select(ErrorRecord).where(ErrorRecord.reference == code))
        if record is not None:
            return record
        return await session.scalar(
            select(ErrorRecord)
            .join(ErrorOccurrence, ErrorOccurrence.error_id == ErrorRecord.id)
            .where(ErrorOccurrence.reference == code)
        )


@dataclass(frozen=True)
class ErrorStats:
    by_category: dict[ErrorCategory, int]
    by_severity: dict[ErrorSeverity, int]
    top: list[tuple[ErrorRecord, int]]  # record, occurrences within the period

    @property
    def total(self) -> int:
        return sum(self.by_category.values())


async def error_stats(
    sessionmaker: async_sessionmaker[AsyncSession], since: datetime, top: int = 5
) -> ErrorStats:
    """Occurrences since `since`, by category and severity, and the most frequent problems.

    Each of the two queries is an index-only range scan of ix_error_occurrences_occurred_at
    (the window) joined to the few records it names; both return a handful of rows, which is
    cheaper than fetching every record's count into Python once."""
    recent = (
        select(ErrorOccurrence.error_id, func.count(ErrorOccurrence.id).label("n"))
        .where(ErrorOccurrence.occurred_at >= since)
        .group_by(ErrorOccurrence.error_id)
        .subquery()
    )
    async with sessionmaker() as session:
        grouped = await session.execute(
            select(ErrorRecord.category, ErrorRecord.severity, func.sum(recent.c.n))
            .join(recent, recent.c.error_id == ErrorRecord.id)
            .group_by(ErrorRecord.category, ErrorRecord.severity)
        )
        by_category: dict[ErrorCategory, int] = {}
        by_severity: dict[ErrorSeverity, int] = {}
        for category, severity, count in grouped:
            by_category[category] = by_category.get(category, 0) + int(count)
            by_severity[severity] = by_severity.get(severity, 0) + int(count)
        rows = await session.execute(
            select(ErrorRecord, recent.c.n)
            .join(recent, recent.c.error_id == ErrorRecord.id)
            .order_by(recent.c.n.desc(), ErrorRecord.last_seen.desc())
            .limit(top)
        )
        return ErrorStats(by_category, by_severity, [(r, int(n)) for r, n in rows])
