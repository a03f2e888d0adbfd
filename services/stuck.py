"""Finding stuck requests and alerting about them once per stuck period.

A request is stuck when it has waited in its stage longer than the stage's `stuck_after`, when
its assignee is gone (none, deactivated, or no longer holding the stage's role), or when its
stage is no longer in the workflow file. Each of those is a few ranges of an index,
so the page and the count read the stuck requests, not every active one
(database/repositories/stuck.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.enums import RecoveryAction, RecoveryOutcome, Role
from core.workflows import Stage, WorkflowRegistry
from database.models import Request, StuckMark, User, WorkflowRecoveryLog
from database.repositories.stuck import StuckQueries, StuckStatements, active_holders, marks_for
from database.repositories.users import UserRepository
from outbox.payloads import StuckEscalation, StuckNudge
from outbox.repository import enqueue
from services.recovery.spec import spec
from services.transactions import Change, TransactionalStateManager

SYSTEM_REASON = "stuck detector"


@dataclass(frozen=True)
class StuckFilter:
    workflow: str | None = None
    stage: str | None = None


@dataclass(frozen=True)
class StuckEntry:
    request: Request
    stage: Stage | None  # None: the stage is no longer in the workflow file
    waiting: timedelta
    threshold: timedelta
    assignee_gone: bool

    @property
    def overdue(self) -> bool:
        return self.waiting >= self.threshold


# Stuck requests per transaction of the check: each marks, logs and queues alerts for a few
# hundred requests (milliseconds of locks); a pile of thousands never becomes one long
# transaction, and a commit per chunk is cheap beside the chunk's own writes.
CHUNK = 200


@dataclass(frozen=True)
class DetectionResult:
    new: int
    nudged: int
    escalated: int
    assignee_gone: int

    def __add__(self, other: DetectionResult) -> DetectionResult:
        return DetectionResult(
            self.new + other.new,
            self.nudged + other.nudged,
            self.escalated + other.escalated,
            self.assignee_gone + other.assignee_gone,
        )


class StuckService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        tx: TransactionalStateManager,
        workflows: WorkflowRegistry,
        clock: Clock,
        *,
        chunk: int = CHUNK,
    ) -> None:
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk!r}")
        self.chunk = chunk
        self.sessionmaker = sessionmaker
        self.tx = tx
        self.workflows = workflows
        self.clock = clock
        self.queries = StuckQueries(workflows)

    def stage_of(self, request: Request) -> Stage | None:
        workflow = self.workflows.get(request.workflow)
        return workflow.stage(request.stage) if workflow and request.stage else None

    def _entry(self, request: Request, now: datetime) -> StuckEntry:
        stage = self.stage_of(request)
        assignee = request.assignee
        gone = stage is not None and (
            assignee is None or not assignee.is_active or stage.role not in assignee.role_set
        )
        return StuckEntry(
            request=request,
            stage=stage,
            waiting=now - request.stage_entered_at,
            threshold=stage.stuck_after if stage else timedelta(0),
            assignee_gone=gone,
        )

    async def page(
        self, selected: StuckFilter, offset: int, limit: int
    ) -> tuple[list[StuckEntry], int]:
        now = self.clock.now()
        async with self.sessionmaker() as session:
            built = await self._statements(session, selected)
            ids = await self.queries.page_ids(session, built, now, offset, limit)
            total = await self.queries.count(session, built, now)
            found = {r.id: r for r in await self.queries.load(session, ids)}
        return [self._entry(found[i], now) for i in ids if i in found], total

    async def count(self, selected: StuckFilter = StuckFilter()) -> int:
        async with self.sessionmaker() as session:
            built = await self._statements(session, selected)
            return await self.queries.count(session, built, self.clock.now())

    async def all(self, selected: StuckFilter = StuckFilter()) -> list[StuckEntry]:
        now = self.clock.now()
        async with self.sessionmaker() as session:
            built = await self._statements(session, selected)
            requests = await self.queries.requests(session, built, now)
        return [self._entry(r, now) for r in requests]

    async def _statements(self, session: AsyncSession, selected: StuckFilter) -> StuckStatements:
        holders = await active_holders(session)
        return self.queries.statements(selected.workflow, selected.stage, holders)

    async def detect(self) -> DetectionResult:
        """Mark newly stuck requests, nudge their assignee, escalate the long-stuck to admins.

        Runs from the scheduler; one alert of each kind per stuck period, however often. The
        stuck requests are handled `chunk` at a time, each chunk its own transaction: a
        failure keeps the chunks before it, and the next run goes on where it stopped, since
        a request's mark says what it was already sent."""
        now = self.clock.now()  # one moment for every chunk: they judge "stuck" alike
        async with self.sessionmaker() as session:
            built = await self._statements(session, StuckFilter())
            # Ids only (the stuck ones, read from the indexes): the rows are loaded per chunk.
            ids = await self.queries.ids(session, built, now)
        total = DetectionResult(0, 0, 0, 0)
        # At least one transaction, as before: its audit row says the check ran, found or not.
        for start in range(0, max(len(ids), 1), self.chunk):
            part = ids[start : start + self.chunk]

            async def work(change: Change, part: list[int] = part) -> DetectionResult:
                return await self._detect_chunk(change, part, now)

            found = await self.tx.run("detect_stuck", "requests", work)
            total += found
        return total

    async def _detect_chunk(
        self, change: Change, ids: Sequence[int], now: datetime
    ) -> DetectionResult:
        session = change.session
        # Read again inside the transaction: a request that moved meanwhile is not stuck now.
        built = await self._statements(session, StuckFilter())
        stuck = await self.queries.chunk(session, built, now, ids)
        entries = [self._entry(r, now) for r in stuck]
        marks = await self._marks(session, entries)
        admins = await UserRepository(session).active_holders(Role.ADMIN) if entries else []
        new = nudged = escalated = gone = 0
        for entry in entries:
            request = entry.request
            key = (request.id, request.stage_entered_at)
            mark = marks.get(key)
            if mark is None:
                mark = StuckMark(
                    request_id=request.id,
                    stage=request.stage or "",
                    stage_entered_at=request.stage_entered_at,
                    detected_at=now,
                    assignee_gone=entry.assignee_gone,
                )
                session.add(mark)
                await session.flush()
                new += 1
            assignee = None if entry.assignee_gone else request.assignee
            if mark.nudged_at is None and entry.overdue and assignee is not None:
                mark.nudged_at = now
                nudged += 1
                await self._alert(
                    session, request, [assignee], StuckNudge, mark, entry, RecoveryAction.NUDGE
                )
            needs_admin = entry.assignee_gone or entry.stage is None
            escalation = entry.stage.escalation if entry.stage else timedelta(0)
            if mark.escalated_at is None and (needs_admin or entry.waiting >= escalation):
                mark.escalated_at = now
                escalated += 1
                gone += entry.assignee_gone
                await self._alert(
                    session, request, admins, StuckEscalation, mark, entry, RecoveryAction.ESCALATE
                )
        change.after = {"new": new, "nudged": nudged, "escalated": escalated}
        return DetectionResult(new, nudged, escalated, gone)

    @staticmethod
    async def _marks(
        session: AsyncSession, entries: Sequence[StuckEntry]
    ) -> dict[tuple[int, datetime], StuckMark]:
        ids = [e.request.id for e in entries]
        if not ids:
            return {}
        return {(m.request_id, m.stage_entered_at): m for m in await marks_for(session, ids)}

    async def _alert(
        self,
        session: AsyncSession,
        request: Request,
        recipients: Sequence[User],
        kind: type[StuckNudge | StuckEscalation],
        mark: StuckMark,
        entry: StuckEntry,
        action: RecoveryAction,
    ) -> None:
        now = self.clock.now()
        session.add(
            WorkflowRecoveryLog(
                request_id=request.id,
                actor_id=None,
                action=action,
                risk=spec(action).risk,
                reason=SYSTEM_REASON,
                outcome=RecoveryOutcome.APPLIED,
                from_stage=request.stage,
                to_stage=request.stage,
                from_status=request.status.value,
                to_status=request.status.value,
                from_assignee_id=request.assignee_id,
                to_assignee_id=request.assignee_id,
                detail=f"waiting {int(entry.waiting.total_seconds() // 3600)} h"
                + ("; assignee gone" if entry.assignee_gone else ""),
                created_at=now,
            )
        )
        payload = kind(
            request_id=request.id,
            version=request.version,
            workflow=request.workflow,
            stage=request.stage,
            hours=int(entry.waiting.total_seconds() // 3600),
            assignee=request.assignee.display_name if request.assignee else None,
            assignee_gone=entry.assignee_gone,
        )
        for recipient in recipients:
            await enqueue(
                session,
                recipient_id=recipient.id,
                payload=payload,
                idempotency_key=f"stuck:{mark.id}:{payload.kind}:{recipient.id}",
                now=now,
            )
