"""The outbox table's queries, and `enqueue`: how a service writes a notification.

A notification is written in the caller's transaction, next to the change that causes it;
`wrote_outbox(session)` tells whoever commits that transaction that the sender has work."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import DeadReason, NotificationStatus
from database.models import PendingNotification, User
from outbox.outcomes import Change
from outbox.payloads import NotificationKind, Payload
from utils.records import Json

CLAIM_PAGES = 4  # pages of candidates a PostgreSQL claim looks through past others' locks
ROUTINE = 0
ALERT = 10  # admin alerts (a critical error, an error storm, health): claimed before routine rows

WAITING = (NotificationStatus.PENDING, NotificationStatus.RETRYING)
FINISHED = (NotificationStatus.SENT, NotificationStatus.DEAD, NotificationStatus.DISCARDED)


OUTBOX_ROWS = "outbox_rows"  # session.info key: rows this transaction wrote


async def enqueue(
    session: AsyncSession,
    *,
    recipient_id: int,
    payload: Payload,
    idempotency_key: str,
    now: datetime,
    priority: int = ROUTINE,
) -> int | None:
    """Write one notification in the caller's transaction; a repeated key writes nothing.

    The row's kind is the payload's. Rows of a higher `priority` are sent first (`ALERT` for
    what admins must see at once)."""
    row_id = await NotificationRepository(session).add(
        recipient_id=recipient_id,
        kind=payload.kind,
        payload=payload.to_json(),
        idempotency_key=idempotency_key,
        now=now,
        priority=priority,
    )
    if row_id is not None:
        session.info[OUTBOX_ROWS] = session.info.get(OUTBOX_ROWS, 0) + 1
    return row_id


def wrote_outbox(session: AsyncSession) -> bool:
    """Whether the session's transaction wrote notifications (read it after the commit)."""
    return bool(session.info.get(OUTBOX_ROWS))


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def dialect(self) -> str:
        return self.session.bind.dialect.name if self.session.bind else "sqlite"

    async def add(
        self,
        *,
        recipient_id: int,
        kind: NotificationKind,
        payload: dict[str, Json],
        idempotency_key: str,
        now: datetime,
        priority: int = ROUTINE,
    ) -> int | None:
        """Insert one outbox row; a key written before is left alone (returns None)."""
        values = {
            "priority": priority,
            "recipient_id": recipient_id,
            "kind": kind.value,
            "payload": payload,
            "idempotency_key": idempotency_key,
            "status": NotificationStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        statement = (
            insert(PendingNotification)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(PendingNotification.id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    @staticmethod
    def _due(now: datetime) -> ColumnElement[bool]:
        # An expired claim belongs to a sender that died or hung: the row is free again.
        return (
            PendingNotification.status.in_(WAITING)
            & (PendingNotification.next_attempt_at <= now)
            & or_(
                PendingNotification.claimed_until.is_(None),
                PendingNotification.claimed_until <= now,
            )
        )

    async def due(self, now: datetime, limit: int) -> Sequence[PendingNotification]:
        query = (
            select(PendingNotification)
            .where(self._due(now))
            .order_by(PendingNotification.id)
            .limit(limit)
        )
        return (await self.session.execute(query)).unique().scalars().all()

    async def claim(
        self, *, owner: str, now: datetime, until: datetime, limit: int, ids: Sequence[int] = ()
    ) -> list[int]:
        """Mark up to `limit` due rows as ours until `until`; returns their ids, first first.

        At most one row per recipient, and none while another row of theirs is claimed by any
        sender: Telegram allows a chat one message a second, so a second row in hand could only
        wait, and a burst to one chat would fill the batch and hold back everyone else. Higher
        priority first, then oldest first. PostgreSQL skips rows another sender has locked, so
        two senders never take the same row; SQLite serialises writers, which is why one
        process is its supported setup.
        """
        ranked = (
            select(
                PendingNotification.id,
                PendingNotification.priority,
                PendingNotification.claimed_until,
                func.row_number()
                .over(
                    partition_by=PendingNotification.recipient_id,
                    order_by=(PendingNotification.priority.desc(), PendingNotification.id),
                )
                .label("place"),
            )
            # Claimed rows count here (they hold their chat); ones due later do not.
            .where(
                PendingNotification.status.in_(WAITING),
                PendingNotification.next_attempt_at <= now,
            )
        )
        if ids:
            ranked = ranked.where(PendingNotification.id.in_(ids))
        first = ranked.subquery()
        # One scan, no join back to the table: a join is planned as a nested loop while the
        # statistics of a fast-growing queue still say it is empty (seconds per claim).
        candidates = (
            select(first.c.id)
            .where(
                first.c.place == 1,
                or_(first.c.claimed_until.is_(None), first.c.claimed_until <= now),
            )
            .order_by(first.c.priority.desc(), first.c.id)
        )
        if self.dialect != "postgresql":
            return await self._mark(list(await self._ids(candidates.limit(limit))), owner, until)
        # Lock them, skipping rows another sender holds; it may hold the first ones, so look
        # further down the list while whole pages were skipped.
        claimed: list[int] = []
        seen: list[int] = []
        for _ in range(CLAIM_PAGES):
            page = await self._ids(
                candidates.where(first.c.id.not_in(seen)).limit(2 * limit)
                if seen
                else candidates.limit(2 * limit)
            )
            if not page:
                break
            locked = (
                select(PendingNotification.id)
                .where(PendingNotification.id.in_(page), self._due(now))
                .order_by(PendingNotification.priority.desc(), PendingNotification.id)
                .limit(limit - len(claimed))
                .with_for_update(skip_locked=True)
            )
            claimed += await self._ids(locked)
            seen += page
            if len(claimed) >= limit or len(page) < 2 * limit:
                break
        return await self._mark(claimed, owner, until)

    async def _ids(self, query: Select[Any]) -> list[int]:
        return [int(i) for i in (await self.session.execute(query)).scalars()]

    async def _mark(self, claimed: list[int], owner: str, until: datetime) -> list[int]:
        if claimed:
            await self.session.execute(
                update(PendingNotification)
                .where(PendingNotification.id.in_(claimed))
                .values(claimed_by=owner, claimed_until=until)
            )
        return claimed

    async def record(self, changes: Sequence[Change], now: datetime, owner: str) -> list[int]:
        """Write the outcomes of many sends at once: one executemany, two user updates.

        Only the rows `owner` still holds, still waiting, take their outcome: a claim that
        expired and was taken by another sender, or a row an admin changed, is left as it is
        now. Returns the ids whose outcome was not written (the claim was lost). The rows are
        locked first (PostgreSQL; SQLite's BEGIN IMMEDIATE holds every writer off), so the
        count is exact; the update's own condition would keep a lost row untouched anyway."""
        if not changes:
            return []
        held = set(
            await self._ids(
                select(PendingNotification.id)
                .where(
                    PendingNotification.id.in_([c.row_id for c in changes]),
                    self._held(owner),
                )
                .with_for_update()
            )
        )
        kept = [c for c in changes if c.row_id in held]
        if kept:
            await self.session.execute(
                update(PendingNotification).where(self._held(owner)),
                [c.values for c in kept],
                execution_options={"synchronize_session": None},  # no objects loaded here
            )
        # What Telegram said about a person is true whoever held the row.
        reached = {c.recipient_id for c in changes if c.reachable is True}
        lost = {c.recipient_id for c in changes if c.reachable is False}
        if reached - lost:
            await self.session.execute(
                update(User)
                .where(User.id.in_(reached - lost), User.unreachable_since.is_not(None))
                .values(unreachable_since=None)
            )
        if lost:
            await self.session.execute(
                update(User).where(User.id.in_(lost)).values(unreachable_since=now)
            )
        return [c.row_id for c in changes if c.row_id not in held]

    @staticmethod
    def _held(owner: str) -> ColumnElement[bool]:
        """The row is still `owner`'s claim, in the state it was claimed in."""
        # Equalities, not IN: an executemany cannot expand a list.
        waiting = or_(*(PendingNotification.status == status for status in WAITING))
        return (PendingNotification.claimed_by == owner) & waiting

    async def renew(self, owner: str, ids: Sequence[int], until: datetime) -> list[int]:
        """Extend `owner`'s claim on `ids` to `until`; returns those still held (the rest were
        lost: the claim expired and another sender took the row)."""
        if not ids:
            return []
        result = await self.session.execute(
            update(PendingNotification)
            .where(PendingNotification.id.in_(ids), self._held(owner))
            .values(claimed_until=until)
            .returning(PendingNotification.id)
        )
        return [int(i) for i in result.scalars()]

    async def load(self, ids: Sequence[int]) -> Sequence[PendingNotification]:
        query = (
            select(PendingNotification)
            .where(PendingNotification.id.in_(ids))
            .order_by(PendingNotification.priority.desc(), PendingNotification.id)
        )
        return (await self.session.execute(query)).unique().scalars().all()

    async def release(self, owner: str, ids: Sequence[int]) -> None:
        await self.session.execute(
            update(PendingNotification)
            .where(PendingNotification.id.in_(ids), PendingNotification.claimed_by == owner)
            .values(claimed_by=None, claimed_until=None)
        )

    async def counts(self) -> dict[NotificationStatus, int]:
        rows = await self.session.execute(
            select(PendingNotification.status, func.count()).group_by(PendingNotification.status)
        )
        found = {NotificationStatus(status): int(count) for status, count in rows.all()}
        return {status: found.get(status, 0) for status in NotificationStatus}

    @staticmethod
    def filtered(status: NotificationStatus) -> Select[Any]:
        return select(PendingNotification).where(PendingNotification.status == status)

    async def page(
        self, status: NotificationStatus, offset: int, limit: int
    ) -> Sequence[PendingNotification]:
        query = self.filtered(status).order_by(PendingNotification.id).offset(offset).limit(limit)
        found: Sequence[PendingNotification] = (
            (await self.session.execute(query)).unique().scalars().all()
        )
        return found

    async def count(self, status: NotificationStatus) -> int:
        query = select(func.count()).where(PendingNotification.status == status)
        return int(await self.session.scalar(query.select_from(PendingNotification)) or 0)

    async def ids_with_status(self, status: NotificationStatus) -> list[int]:
        query = (
            select(PendingNotification.id)
            .where(PendingNotification.status == status)
            .order_by(PendingNotification.id)
        )
        return list((await self.session.execute(query)).scalars())

    async def overflow(self, keep: int) -> list[int]:
        """Waiting rows beyond the newest `keep`: the oldest are the ones let go first."""
        query = (
            select(PendingNotification.id)
            .where(PendingNotification.status.in_(WAITING))
            .order_by(PendingNotification.id.desc())
            .offset(keep)
        )
        return list((await self.session.execute(query)).scalars())

    async def delete_finished(self, before: datetime) -> int:
        finished_at = func.coalesce(
            PendingNotification.sent_at,
            PendingNotification.dead_at,
            PendingNotification.created_at,
        )
        result = await self.session.execute(
            delete(PendingNotification).where(
                PendingNotification.status.in_(FINISHED), finished_at < before
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # --- the operators' screens and the health check --------------------------------------

    async def counts_of(
        self, statuses: Sequence[NotificationStatus]
    ) -> dict[NotificationStatus, int]:
        """Rows of each of `statuses` that has any: a range of
        ix_pending_notifications_status_due each, not a count of every status."""
        column = PendingNotification.status
        rows = await self.session.execute(
            select(column, func.count()).where(column.in_(statuses)).group_by(column)
        )
        return {NotificationStatus(status): int(count) for status, count in rows.all()}

    async def oldest(self, statuses: Sequence[NotificationStatus]) -> datetime | None:
        """When the oldest row of `statuses` was written."""
        return await self.session.scalar(
            select(func.min(PendingNotification.created_at)).where(
                PendingNotification.status.in_(statuses)
            )
        )

    async def shown(
        self, status: NotificationStatus, ids: Sequence[int] | None
    ) -> list[tuple[int, NotificationStatus, int]]:
        """(id, status, attempts) of the rows of `status` (only `ids` of them if given)."""
        query = select(
            PendingNotification.id, PendingNotification.status, PendingNotification.attempts
        ).where(PendingNotification.status == status)
        if ids is not None:
            query = query.where(PendingNotification.id.in_(ids))
        rows = await self.session.execute(query.order_by(PendingNotification.id))
        return [(int(i), NotificationStatus(s), int(a)) for i, s, a in rows]

    async def lock(
        self, ids: Sequence[int], statuses: Sequence[NotificationStatus]
    ) -> list[PendingNotification]:
        """Those of `ids` whose status is one of `statuses`, row-locked, first first."""
        query = (
            select(PendingNotification)
            .where(PendingNotification.id.in_(ids), PendingNotification.status.in_(statuses))
            .order_by(PendingNotification.id)
            .with_for_update(of=PendingNotification)
        )
        return list((await self.session.execute(query)).unique().scalars())

    async def kill(self, ids: Sequence[int], reason: DeadReason, now: datetime) -> None:
        """Move the rows to dead for `reason`, releasing any claim on them."""
        await self.session.execute(
            update(PendingNotification)
            .where(PendingNotification.id.in_(ids))
            .values(
                status=NotificationStatus.DEAD,
                dead_reason=reason,
                dead_at=now,
                claimed_by=None,
                claimed_until=None,
            )
        )
