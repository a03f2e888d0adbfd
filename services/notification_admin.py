"""What operators do with the notification queue: look, retry, discard, keep it bounded.

Every change goes through the transactional state manager, so each is in the transaction log
with the person who did it. Retrying hands the rows straight to the sender and reports back.

A row whose claim is live is being sent right now: retry and discard leave it alone (its
sender writes the outcome), so a send is never doubled and a discarded row never goes out.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.enums import ACTIONABLE_STATUSES, DeadReason, NotificationStatus
from core.exceptions import DomainError, NotFound, ValidationFailed
from core.i18n import N_
from database.models import PendingNotification
from database.models.counts import DEAD_NOTIFICATIONS
from database.repositories.counts import kept_count
from outbox.repository import NotificationRepository
from outbox.sender import OutboxSender, Outcome
from services.transactions import Change, TransactionalStateManager
from services.users import acting, is_admin, is_staff

logger = logging.getLogger(__name__)

MAX_REASON = 500
ACTIONABLE = ACTIONABLE_STATUSES
LISTED = ACTIONABLE
# Who may change the queue from a screen, checked again in the transaction that changes it (a
# role revoked by another process counts at once); the staff screens say the same words earlier.
MANAGE_NOTIFICATIONS = N_("Only admins and support can manage notifications.")
DISCARD_NOTIFICATIONS = N_("Only admins can discard notifications.")


# What a confirmation lists of each row: (status, attempts) as shown. A row that was sent,
# retried or given up on since has a different pair.
Shown = dict[int, tuple[str, int]]


class BeingSent(ValidationFailed):
    """The one row asked for is in a sender's hands: its outcome comes in a moment. A reply
    to the press, not a failure (so not recorded, as refused input is not)."""

    message = N_("Notification #{id} is being sent right now. Look again in a moment.")


@dataclass(frozen=True)
class Retried:
    outcomes: list[Outcome]  # one per row retried
    in_flight: list[int]  # left alone: being sent right now


@dataclass(frozen=True)
class Discarded:
    count: int
    in_flight: list[int]  # left alone: being sent right now


class SelectionChanged(DomainError):
    """Some of the rows a confirmation listed are not as it showed them any more."""

    message = N_("The list changed since the preview ({count} now). Open it again.")


@dataclass(frozen=True)
class Page:
    rows: Sequence[PendingNotification]
    total: int
    page: int
    pages: int


class NotificationAdminService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        tx: TransactionalStateManager,
        clock: Clock,
        sender: OutboxSender | None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.tx = tx
        self.clock = clock
        self.sender = sender

    async def stats(
        self, statuses: Sequence[NotificationStatus] | None = None
    ) -> dict[NotificationStatus, int]:
        """Rows of each status (all statuses, or just `statuses`). The screen asks for the
        waiting, retrying and dead ones: the dead from their trigger-kept counter (they pile
        up), the others a range of ix_pending_notifications_status_due each (they are the
        ones in flight); counting every status would read the year of sent rows too."""
        async with self.sessionmaker() as session:
            if statuses is None:
                return await NotificationRepository(session).counts()
            found = await NotificationRepository(session).counts_of(
                [s for s in statuses if s is not NotificationStatus.DEAD]
            )
            if NotificationStatus.DEAD in statuses:
                found[NotificationStatus.DEAD] = await self._count(
                    session, NotificationStatus.DEAD
                )
            return {status: found.get(status, 0) for status in statuses}

    async def page(self, status: NotificationStatus, page: int, size: int) -> Page:
        async with self.sessionmaker() as session:
            repo = NotificationRepository(session)
            total = await self._count(session, status)
            pages = max(1, -(-total // size))
            page = min(max(page, 0), pages - 1)
            rows = await repo.page(status, page * size, size)
        return Page(rows, total, page, pages)

    async def rows(
        self, status: NotificationStatus, offset: int, limit: int
    ) -> tuple[Sequence[PendingNotification], int]:
        """Rows from `offset` (the command line's paging, not the screen's page numbers)."""
        async with self.sessionmaker() as session:
            repo = NotificationRepository(session)
            return await repo.page(status, offset, limit), await self._count(session, status)

    @staticmethod
    async def _count(session: AsyncSession, status: NotificationStatus) -> int:
        """The dead from row_counts (database/models/counts.py), the others counted."""
        if status is NotificationStatus.DEAD:
            kept = await kept_count(session, DEAD_NOTIFICATIONS.name)
            if kept is not None:
                return kept
        return await NotificationRepository(session).count(status)

    async def get(self, row_id: int) -> PendingNotification | None:
        async with self.sessionmaker() as session:
            found = await NotificationRepository(session).load([row_id])
            return found[0] if found else None

    async def selection(self, status: NotificationStatus, up_to_id: int) -> list[int]:
        """The rows a bulk action covers: what the filter showed when the preview was made."""
        async with self.sessionmaker() as session:
            ids = await NotificationRepository(session).ids_with_status(status)
        return [i for i in ids if i <= up_to_id]

    async def shown(self, status: NotificationStatus, ids: Sequence[int] | None = None) -> Shown:
        """The rows of a list (or just `ids` of it) as a confirmation shows them."""
        async with self.sessionmaker() as session:
            rows = await NotificationRepository(session).shown(status, ids)
        return {i: (s.value, a) for i, s, a in rows}

    async def retry(
        self, ids: Sequence[int], actor_id: int | None, *, expect: Shown | None = None
    ) -> Retried:
        """Make the rows due now with a fresh attempt budget, then try to send them at once.

        Rows being sent right now are left alone (`in_flight`); one row asked for alone that is
        being sent is refused (BeingSent). `expect`: the rows as a confirmation showed them; if
        any is not so any more, nothing is done (SelectionChanged)."""
        now = self.clock.now()

        async def work(change: Change) -> tuple[list[int], list[int]]:
            if actor_id is not None:  # a person's press; the command line has none
                await acting(change.session, actor_id, is_staff, MANAGE_NOTIFICATIONS)
            rows, flying = await self._actionable(change.session, ids, expect, now)
            change.entity_id = rows[0].id if len(rows) == 1 else None
            change.before = {"ids": [r.id for r in rows], "status": [r.status for r in rows]}
            for row in rows:
                row.status, row.attempts, row.next_attempt_at = NotificationStatus.PENDING, 0, now
                row.dead_reason, row.dead_at = None, None
                row.claimed_by, row.claimed_until = None, None  # an expired claim: lost
            change.after = {"status": NotificationStatus.PENDING.value, "in_flight": flying}
            return [r.id for r in rows], flying

        retried, flying = await self.tx.run(
            "retry_notification", "notification", work, actor_id=actor_id
        )
        if self.sender is None or not retried:
            return Retried([Outcome(i, NotificationStatus.PENDING) for i in retried], flying)
        outcomes = {o.row_id: o for o in await self.sender.send_now(retried)}
        return Retried(
            [outcomes.get(i, Outcome(i, NotificationStatus.PENDING)) for i in retried], flying
        )

    async def discard(
        self,
        ids: Sequence[int],
        actor_id: int | None,
        reason: str,
        *,
        expect: Shown | None = None,
    ) -> Discarded:
        """Discard the rows, except those being sent right now (`in_flight`; one row asked for
        alone that is being sent is refused: BeingSent)."""
        reason = reason.strip()
        if not reason:
            raise ValidationFailed(N_("Please give a reason for discarding."))
        if len(reason) > MAX_REASON:
            raise ValidationFailed(
                N_("The reason is too long: at most {limit} characters."), limit=MAX_REASON
            )
        now = self.clock.now()

        async def work(change: Change) -> Discarded:
            if actor_id is not None:
                await acting(change.session, actor_id, is_admin, DISCARD_NOTIFICATIONS)
            rows, flying = await self._actionable(change.session, ids, expect, now)
            change.entity_id = rows[0].id if len(rows) == 1 else None
            change.before = {"ids": [r.id for r in rows], "status": [r.status for r in rows]}
            for row in rows:
                row.status, row.dead_at = NotificationStatus.DISCARDED, now
                row.discarded_by_id, row.discard_reason = actor_id, reason
                row.claimed_by, row.claimed_until = None, None
            change.after = {
                "status": NotificationStatus.DISCARDED.value,
                "reason": reason,
                "in_flight": flying,
            }
            return Discarded(len(rows), flying)

        return await self.tx.run("discard_notification", "notification", work, actor_id=actor_id)

    async def enforce_limit(self, max_queue: int) -> int:
        """Move waiting rows beyond `max_queue` (oldest first) to dead as queue_full.

        They stay visible and retryable; a write is never refused, because the change that
        caused the notification has already committed."""
        now = self.clock.now()

        async def work(change: Change) -> list[int]:
            repo = NotificationRepository(change.session)
            overflow = await repo.overflow(max_queue)
            if overflow:
                await repo.kill(overflow, DeadReason.QUEUE_FULL, now)
            return list(overflow)

        # The limit is housekeeping of the queue; the warning below is its record.
        overflow = await self.tx.run("enforce_queue_limit", "notification", work, audited=False)
        if overflow:
            logger.warning(
                "notification queue over %s: %s rows moved to dead", max_queue, len(overflow)
            )
        return len(overflow)

    async def cleanup(self, retention: timedelta) -> int:
        async def work(change: Change) -> int:
            return await NotificationRepository(change.session).delete_finished(
                self.clock.now() - retention
            )

        removed = await self.tx.run("cleanup_notifications", "notification", work, audited=False)
        logger.info("deleted %s finished notifications older than %s", removed, retention)
        return removed

    @staticmethod
    async def _actionable(
        session: AsyncSession, ids: Sequence[int], expect: Shown | None, now: datetime
    ) -> tuple[list[PendingNotification], list[int]]:
        """The rows to change, locked, and the ids left alone because a sender holds them.

        The lock (PostgreSQL's FOR UPDATE, SQLite's BEGIN IMMEDIATE) waits for a claim being
        taken, so a claim seen free here stays free until this transaction commits."""
        rows = await NotificationRepository(session).lock(ids, ACTIONABLE)
        if expect is not None:
            still = [r for r in rows if expect.get(r.id) == (r.status.value, r.attempts)]
            if len(still) != len(expect) or len(rows) != len(still):
                raise SelectionChanged(count=len(still))
        if not rows:
            raise NotFound(N_("Those notifications are no longer waiting or dead."))
        flying = [r.id for r in rows if r.claimed_until is not None and r.claimed_until > now]
        if len(ids) == 1 and flying:
            raise BeingSent(id=flying[0])
        return [r for r in rows if r.id not in flying], flying
