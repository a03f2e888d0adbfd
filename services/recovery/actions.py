"""Admin recovery actions on one request, and bulk runs of them.

Each action: a permission check by risk, a plan the admin confirms, then one transaction
(through the state manager) that changes the request only if it is still the version the
admin saw, writes its transition and a `workflow_recovery_log` row, and notifies the people
affected. A lost race is logged too, as "stale": the log says what really happened.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.enums import (
    JobStatus,
    RecoveryAction,
    RecoveryOutcome,
    RequestStatus,
    Risk,
    Role,
    TransitionAction,
)
from core.exceptions import (
    InvalidTransition,
    NotFound,
    PermissionDenied,
    StaleVersion,
    ValidationFailed,
)
from core.i18n import N_
from core.workflows import Stage, Workflow, WorkflowRegistry
from database.models import (
    RecoveryJob,
    Request,
    RequestTransition,
    User,
    WorkflowRecoveryLog,
)
from database.repositories.requests import RequestRepository
from database.repositories.users import UserRepository
from outbox.repository import enqueue
from services.transactions import Change, TransactionalStateManager

logger = logging.getLogger(__name__)

RISK = {
    RecoveryAction.NUDGE: Risk.LOW,
    RecoveryAction.REASSIGN: Risk.MEDIUM,
    RecoveryAction.RESET: Risk.HIGH,
    RecoveryAction.FORCE_TRANSITION: Risk.HIGH,
    RecoveryAction.FORCE_COMPLETE: Risk.HIGH,
}
MENU_ACTIONS = tuple(RISK)
BULK_ACTIONS = (
    RecoveryAction.NUDGE,
    RecoveryAction.RESET,
    RecoveryAction.FORCE_TRANSITION,
    RecoveryAction.FORCE_COMPLETE,
)
TRANSITIONS = {
    RecoveryAction.REASSIGN: TransitionAction.REASSIGN,
    RecoveryAction.RESET: TransitionAction.RESET,
    RecoveryAction.FORCE_TRANSITION: TransitionAction.FORCE_TRANSITION,
    RecoveryAction.FORCE_COMPLETE: TransitionAction.FORCE_COMPLETE,
}
MAX_REASON = 500


def may_run(roles: frozenset[Role], action: RecoveryAction) -> bool:
    """Admins may do everything; support only what carries a low risk."""
    if Role.ADMIN in roles:
        return True
    return Role.SUPPORT in roles and RISK.get(action) is Risk.LOW


def is_staff(roles: frozenset[Role]) -> bool:
    return bool(roles & {Role.ADMIN, Role.SUPPORT})


@dataclass(frozen=True)
class Plan:
    """Exactly what an action will do, for the confirmation screen."""

    action: RecoveryAction
    risk: Risk
    request_id: int
    version: int
    workflow: str
    from_stage: str | None
    to_stage: str | None
    to_status: RequestStatus
    to_assignee: User | None
    skips_stock_issue: bool  # a stage that issues stock is skipped: nothing leaves the shelf


@dataclass(frozen=True)
class Applied:
    outcome: RecoveryOutcome
    request: Request | None  # the request as it is now (re-checked after the action)


class RecoveryActions:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        tx: TransactionalStateManager,
        workflows: WorkflowRegistry,
        clock: Clock,
        on_commit: Callable[[], None] = lambda: None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        bulk_per_second: float = 5.0,
        on_outcome: Callable[[RecoveryAction, RecoveryOutcome], None] = lambda a, o: None,
    ) -> None:
        self.on_outcome = on_outcome  # metrics count actions by kind and outcome
        self.sessionmaker = sessionmaker
        self.tx = tx
        self.workflows = workflows
        self.clock = clock
        self.on_commit = on_commit
        self.sleep = sleep
        self.bulk_per_second = bulk_per_second
        self._jobs: dict[int, asyncio.Task[RecoveryJob]] = {}

    # -- what is possible -------------------------------------------------------------------

    def available(self, request: Request) -> list[RecoveryAction]:
        """The actions that make sense for this request now (before permissions)."""
        workflow = self.workflows.get(request.workflow)
        stage = workflow.stage(request.stage) if workflow and request.stage else None
        if request.status is not RequestStatus.ACTIVE:
            return []
        if workflow is None or stage is None:
            return [RecoveryAction.FORCE_COMPLETE]  # its stage is gone: only finishing it works
        actions = []
        if request.assignee_id is not None:
            actions.append(RecoveryAction.NUDGE)
        actions.append(RecoveryAction.REASSIGN)
        if workflow.previous_stage(stage.key) is not None:
            actions.append(RecoveryAction.RESET)
        if workflow.next_stage(stage.key) is not None:
            actions.append(RecoveryAction.FORCE_TRANSITION)
        actions.append(RecoveryAction.FORCE_COMPLETE)
        return actions

    async def candidates(self, request_id: int) -> list[User]:
        """Who the request can be reassigned to: active holders of the stage's role."""
        async with self.sessionmaker() as session:
            request = await RequestRepository(session).by_id(request_id)
            if request is None:
                raise NotFound(N_("Request #{request_id} does not exist."), request_id=request_id)
            _workflow, stage = self._definition(request)
            holders = await UserRepository(session).active_holders(stage.role)
            return [u for u in holders if u.id != request.assignee_id]

    async def plan(
        self,
        request_id: int,
        action: RecoveryAction,
        actor: User,
        version: int,
        target_user_id: int | None = None,
    ) -> Plan:
        async with self.sessionmaker() as session:
            request = await RequestRepository(session).by_id(request_id)
            return await self._plan(session, request, action, actor, version, target_user_id)

    async def _plan(
        self,
        session: AsyncSession,
        request: Request | None,
        action: RecoveryAction,
        actor: User,
        version: int,
        target_user_id: int | None,
    ) -> Plan:
        if not may_run(actor.role_set, action):
            raise PermissionDenied(N_("Your role may not run this action."))
        if request is None:
            raise NotFound(N_("That request does not exist."))
        if request.version != version:
            raise StaleVersion()
        if action not in self.available(request):
            raise InvalidTransition(N_("This action is not available for this request now."))
        workflow = self.workflows.get(request.workflow)
        stage = workflow.stage(request.stage) if workflow and request.stage else None
        to_stage, to_status, to_assignee = request.stage, RequestStatus.ACTIVE, request.assignee
        skips = False
        if action is RecoveryAction.REASSIGN:
            assert stage is not None
            # Without a target this only checks that reassigning is possible at all.
            if target_user_id is not None:
                to_assignee = await self._target(session, request, stage, target_user_id)
        elif action is RecoveryAction.RESET:
            assert workflow is not None and stage is not None
            back = await self._previous(session, request, workflow, stage)
            to_stage = back.key
            to_assignee = await UserRepository(session).least_loaded_holder(back.role)
        elif action is RecoveryAction.FORCE_TRANSITION:
            assert workflow is not None and stage is not None
            forward = workflow.next_stage(stage.key)
            assert forward is not None
            to_stage, skips = forward.key, stage.issues_stock
            to_assignee = await UserRepository(session).least_loaded_holder(forward.role)
        elif action is RecoveryAction.FORCE_COMPLETE:
            to_stage, to_status, to_assignee = None, RequestStatus.COMPLETED, None
            skips = self._stock_pending(workflow, stage)
        return Plan(
            action=action,
            risk=RISK[action],
            request_id=request.id,
            version=request.version,
            workflow=request.workflow,
            from_stage=request.stage,
            to_stage=to_stage,
            to_status=to_status,
            to_assignee=to_assignee,
            skips_stock_issue=skips,
        )

    # -- doing it ---------------------------------------------------------------------------

    async def apply(
        self,
        request_id: int,
        action: RecoveryAction,
        actor_id: int,
        version: int,
        reason: str,
        target_user_id: int | None = None,
        job_id: int | None = None,
    ) -> Applied:
        reason = reason.strip()
        if not reason:
            raise ValidationFailed(N_("Please give a reason."))
        if len(reason) > MAX_REASON:
            raise ValidationFailed(
                N_("The reason is too long: at most {limit} characters."), limit=MAX_REASON
            )

        async def work(change: Change) -> None:
            session = change.session
            actor = await UserRepository(session).by_id(actor_id)
            if actor is None or not actor.is_active:
                raise PermissionDenied()
            request = await RequestRepository(session).by_id(request_id)
            plan = await self._plan(session, request, action, actor, version, target_user_id)
            assert request is not None
            change.entity_id = request.id
            change.before = _snapshot(request)
            await self._execute(session, request, plan, actor, reason, job_id)
            change.after = _snapshot(request)

        try:
            await self.tx.run(
                f"recovery_{action.value}",
                "request",
                work,
                actor_id=actor_id,
                entity_id=request_id,
            )
        except StaleVersion:
            await self._log_outcome(
                request_id, action, actor_id, reason, job_id, RecoveryOutcome.STALE
            )
            self.on_outcome(action, RecoveryOutcome.STALE)
            return Applied(RecoveryOutcome.STALE, await self._fresh(request_id))
        self.on_commit()
        self.on_outcome(action, RecoveryOutcome.APPLIED)
        return Applied(RecoveryOutcome.APPLIED, await self._fresh(request_id))

    async def _execute(
        self,
        session: AsyncSession,
        request: Request,
        plan: Plan,
        actor: User,
        reason: str,
        job_id: int | None,
    ) -> None:
        now = self.clock.now()
        before = (request.stage, request.status, request.assignee_id)
        if plan.action is not RecoveryAction.NUDGE:
            request.stage, request.status = plan.to_stage, plan.to_status
            request.assignee_id = plan.to_assignee.id if plan.to_assignee else None
            # A new stage, or a new person: the wait (and the stuck clock) starts again.
            request.stage_entered_at = request.updated_at = now
            session.add(
                RequestTransition(
                    request_id=request.id,
                    from_stage=before[0],
                    to_stage=request.stage,
                    from_status=before[1],
                    to_status=request.status,
                    actor_id=actor.id,
                    action=TRANSITIONS[plan.action],
                    reason=reason,
                    created_at=now,
                )
            )
        await session.flush()  # bumps the version (and fails here if someone was faster)
        log = WorkflowRecoveryLog(
            request_id=request.id,
            actor_id=actor.id,
            action=plan.action,
            risk=plan.risk,
            reason=reason,
            outcome=RecoveryOutcome.APPLIED,
            from_stage=before[0],
            to_stage=request.stage,
            from_status=before[1].value,
            to_status=request.status.value,
            from_assignee_id=before[2],
            to_assignee_id=request.assignee_id,
            job_id=job_id,
            detail="stock not issued" if plan.skips_stock_issue else None,
            created_at=now,
        )
        session.add(log)
        await session.flush()
        await self._notify(session, request, plan, actor, reason, log)

    async def _notify(
        self,
        session: AsyncSession,
        request: Request,
        plan: Plan,
        actor: User,
        reason: str,
        log: WorkflowRecoveryLog,
    ) -> None:
        now = self.clock.now()
        key = f"recovery:{log.id}"
        decide = {
            "request_id": request.id,
            "version": request.version,
            "workflow": request.workflow,
            "stage": request.stage,
            "requester": request.requester.display_name,
            "items": [
                {"name": line.item.name, "quantity": line.quantity, "unit": line.item.unit}
                for line in request.items
            ],
        }
        if plan.action is RecoveryAction.NUDGE:
            assert request.assignee_id is not None
            await enqueue(
                session,
                recipient_id=request.assignee_id,
                kind="approval_needed",
                payload={**decide, "reminder": True},
                idempotency_key=f"{key}:nudge",
                now=now,
            )
            return
        if plan.to_assignee is not None and request.status is RequestStatus.ACTIVE:
            await enqueue(
                session,
                recipient_id=plan.to_assignee.id,
                kind="approval_needed",
                payload=decide,
                idempotency_key=f"{key}:assignee",
                now=now,
            )
        await enqueue(
            session,
            recipient_id=request.requester_id,
            kind="recovery_applied",
            payload={
                "request_id": request.id,
                "action": plan.action.value,
                "workflow": request.workflow,
                "stage": request.stage,
                "status": request.status.value,
                "reason": reason,
                "by": actor.display_name,
            },
            idempotency_key=f"{key}:requester",
            now=now,
        )

    async def _log_outcome(
        self,
        request_id: int,
        action: RecoveryAction,
        actor_id: int,
        reason: str,
        job_id: int | None,
        outcome: RecoveryOutcome,
    ) -> None:
        async with self.sessionmaker() as session, session.begin():
            request = await RequestRepository(session).by_id(request_id)
            session.add(
                WorkflowRecoveryLog(
                    request_id=request_id,
                    actor_id=actor_id,
                    action=action,
                    risk=RISK[action],
                    reason=reason,
                    outcome=outcome,
                    from_stage=request.stage if request else None,
                    to_stage=request.stage if request else None,
                    from_status=request.status.value if request else None,
                    to_status=request.status.value if request else None,
                    job_id=job_id,
                    detail="the request changed after it was shown; not applied",
                    created_at=self.clock.now(),
                )
            )

    async def _fresh(self, request_id: int) -> Request | None:
        async with self.sessionmaker() as session:
            return await RequestRepository(session).by_id(request_id)

    # -- bulk -------------------------------------------------------------------------------

    async def start_bulk(
        self,
        actor: User,
        action: RecoveryAction,
        reason: str,
        targets: Sequence[tuple[int, int]],
    ) -> RecoveryJob:
        """Record the job for exactly the previewed (request, version) pairs and run it."""
        if action not in BULK_ACTIONS:
            raise InvalidTransition(N_("This action cannot run in bulk."))
        if not may_run(actor.role_set, action):
            raise PermissionDenied(N_("Your role may not run this action."))
        if not reason.strip():
            raise ValidationFailed(N_("Please give a reason."))
        if not targets:
            raise ValidationFailed(N_("Nothing matches this filter any more."))
        async with self.sessionmaker() as session, session.begin():
            job = RecoveryJob(
                actor_id=actor.id,
                action=action,
                reason=reason.strip(),
                targets=[[r, v] for r, v in targets],
                status=JobStatus.RUNNING,
                total=len(targets),
                applied=0,
                skipped=0,
                failed=0,
                created_at=self.clock.now(),
            )
            session.add(job)
        self._jobs[job.id] = asyncio.create_task(self._run_job(job.id, actor.id))
        return job

    async def wait(self, job_id: int) -> RecoveryJob:
        task = self._jobs.get(job_id)
        if task is not None:
            await task
        job = await self.job(job_id)
        assert job is not None
        return job

    async def job(self, job_id: int) -> RecoveryJob | None:
        async with self.sessionmaker() as session:
            return await session.get(RecoveryJob, job_id)

    async def shutdown(self) -> None:
        for task in self._jobs.values():
            task.cancel()
        await asyncio.gather(*self._jobs.values(), return_exceptions=True)

    async def _run_job(self, job_id: int, actor_id: int) -> RecoveryJob:
        job = await self.job(job_id)
        assert job is not None
        counts = {"applied": 0, "skipped": 0, "failed": 0}
        status = JobStatus.COMPLETED
        try:
            for index, (request_id, version) in enumerate(job.targets):
                if index:
                    await self.sleep(1 / self.bulk_per_second)  # be gentle with Telegram
                try:
                    result = await self.apply(
                        request_id, job.action, actor_id, version, job.reason, job_id=job.id
                    )
                except (InvalidTransition, NotFound, StaleVersion):
                    counts["skipped"] += 1  # no longer applicable: it moved or finished
                    continue
                except Exception:
                    logger.exception("bulk job %s failed on request %s", job_id, request_id)
                    counts["failed"] += 1
                    continue
                key = "applied" if result.outcome is RecoveryOutcome.APPLIED else "skipped"
                counts[key] += 1
                await self._progress(job_id, counts, None)
        except asyncio.CancelledError:
            status = JobStatus.FAILED
            raise
        finally:
            await self._progress(job_id, counts, status)
        finished = await self.job(job_id)
        assert finished is not None
        return finished

    async def _progress(
        self, job_id: int, counts: dict[str, int], status: JobStatus | None
    ) -> None:
        async with self.sessionmaker() as session, session.begin():
            job = await session.get(RecoveryJob, job_id)
            if job is None:
                return
            job.applied, job.skipped, job.failed = (
                counts["applied"],
                counts["skipped"],
                counts["failed"],
            )
            if status is not None:
                job.status, job.finished_at = status, self.clock.now()

    # -- helpers ----------------------------------------------------------------------------

    def _definition(self, request: Request) -> tuple[Workflow, Stage]:
        workflow = self.workflows.get(request.workflow)
        stage = workflow.stage(request.stage) if workflow and request.stage else None
        if workflow is None or stage is None:
            raise InvalidTransition(N_("This action is not available for this request now."))
        return workflow, stage

    async def _target(
        self, session: AsyncSession, request: Request, stage: Stage, user_id: int | None
    ) -> User:
        target = await UserRepository(session).by_id(user_id) if user_id else None
        if (
            target is None
            or not target.is_active
            or stage.role not in target.role_set
            or target.id == request.assignee_id
        ):
            raise ValidationFailed(N_("Choose someone else who holds the stage's role."))
        return target

    async def _previous(
        self, session: AsyncSession, request: Request, workflow: Workflow, stage: Stage
    ) -> Stage:
        """Where the request came from (its history), else the stage before it."""
        came_from = await session.scalar(
            select(RequestTransition.from_stage)
            .where(
                RequestTransition.request_id == request.id,
                RequestTransition.to_stage == stage.key,
                RequestTransition.from_stage.is_not(None),
            )
            .order_by(RequestTransition.id.desc())
            .limit(1)
        )
        found = workflow.stage(came_from) if came_from else None
        previous = found or workflow.previous_stage(stage.key)
        assert previous is not None
        return previous

    @staticmethod
    def _stock_pending(workflow: Workflow | None, stage: Stage | None) -> bool:
        if workflow is None or stage is None:
            return False
        keys = [s.key for s in workflow.stages]
        return any(s.issues_stock for s in workflow.stages[keys.index(stage.key) :])


def _snapshot(request: Request) -> dict[str, object]:
    return {
        "stage": request.stage,
        "status": request.status.value,
        "assignee_id": request.assignee_id,
        "version": request.version,
    }
