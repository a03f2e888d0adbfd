"""Looking up error records by the reference code people were shown, and resolving them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.enums import ErrorCategory, ErrorSeverity
from core.exceptions import DomainError, NotFound, ValidationFailed
from core.i18n import N_
from database.models import ErrorRecord
from database.repositories.errors import ErrorRepository
from services.transactions import Change, TransactionalStateManager
from services.users import acting, is_admin

MAX_NOTE = 1000
# Checked again in the resolving transaction (a role revoked by another process counts at once);
# the staff screens say the same words earlier.
RESOLVE_ERRORS = N_("Only admins can resolve errors.")


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
            return await ErrorRepository(session).by_reference(normalize_reference(reference))

    async def recent(self, limit: int = 20, *, unresolved: bool = True) -> Sequence[ErrorRecord]:
        async with self.sessionmaker() as session:
            return await ErrorRepository(session).recent(limit, unresolved=unresolved)

    async def page(
        self, offset: int, limit: int, *, unresolved: bool = True
    ) -> tuple[Sequence[ErrorRecord], int]:
        """The most recently seen records, and how many there are (open ones only unless
        `unresolved` is False)."""
        async with self.sessionmaker() as session:
            return await ErrorRepository(session).page(offset, limit, unresolved=unresolved)

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
            if actor_id is not None:  # a person's press; the command line has none
                await acting(change.session, actor_id, is_admin, RESOLVE_ERRORS)
            record = await ErrorRepository(change.session).by_reference(code)
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
    async with sessionmaker() as session:
        repo = ErrorRepository(session)
        by_category: dict[ErrorCategory, int] = {}
        by_severity: dict[ErrorSeverity, int] = {}
        for category, severity, count in await repo.totals_since(since):
            by_category[category] = by_category.get(category, 0) + count
            by_severity[severity] = by_severity.get(severity, 0) + count
        return ErrorStats(by_category, by_severity, await repo.most_frequent_since(since, top))
