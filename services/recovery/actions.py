"""Admin recovery actions on one request.

Each action is a row of services/recovery/spec.py: a permission check by its risk and a plan
the admin confirms (services/recovery/plans.py), then one transaction through the state manager
that changes the request only if it is still the version the admin saw, writes its transition
and a `workflow_recovery_log` row, and notifies the people its row says are told. A lost race
is logged too, as "stale": the log says what really happened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.enums import RecoveryAction, RecoveryOutcome
from core.exceptions import NotFound, StaleVersion, ValidationFailed
from core.i18n import N_
from core.workflows import WorkflowRegistry
from database.models import Request, RequestTransition, User, WorkflowRecoveryLog
from database.repositories.requests import RequestRepository
from outbox.payloads import ApprovalNeeded, RecoveryApplied
from outbox.repository import enqueue
from services.recovery.plans import Plan, Planner
from services.recovery.spec import Told, spec
from services.request_notices import request_lines
from services.requests import snapshot
from services.transactions import Change, TransactionalStateManager
from services.users import acting

MAX_REASON = 500


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
        on_outcome: Callable[[RecoveryAction, RecoveryOutcome], None] = lambda a, o: None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.tx = tx
        self.clock = clock
        self.planner = Planner(workflows)
        self.on_outcome = on_outcome  # metrics count actions by kind and outcome

    def available(self, request: Request) -> list[RecoveryAction]:
        """The actions that make sense for this request now (before permissions)."""
        return self.planner.available(request)

    async def candidates(self, request_id: int) -> list[User]:
        """Who the request can be reassigned to: active holders of the stage's role."""
        async with self.sessionmaker() as session:
            request = await RequestRepository(session).by_id(request_id)
            if request is None:
                raise NotFound(N_("Request #{request_id} does not exist."), request_id=request_id)
            return await self.planner.candidates(session, request)

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
            return await self.planner.plan(
                session, request, action, actor, version, target_user_id
            )

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
            actor = await acting(session, actor_id)  # the planner checks the role by risk
            request = await RequestRepository(session).by_id(request_id)
            plan = await self.planner.plan(
                session, request, action, actor, version, target_user_id
            )
            assert request is not None
            change.entity_id = request.id
            change.before = snapshot(request)
            await self._execute(session, request, plan, actor, reason, job_id)
            change.after = snapshot(request)

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
        transition = spec(plan.action).transition
        if transition is not None:  # None: the request stays as it is (a reminder)
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
                    action=transition,
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
        decide = ApprovalNeeded(
            request_id=request.id,
            version=request.version,
            workflow=request.workflow,
            stage=request.stage,
            requester=request.requester.display_name,
            items=request_lines(request),
        )
        # Who is told is the action's row, narrowed to this plan (services/recovery/spec.py).
        if plan.told is Told.ASSIGNEE_REMINDER:
            assert request.assignee_id is not None
            await enqueue(
                session,
                recipient_id=request.assignee_id,
                payload=replace(decide, reminder=True),
                idempotency_key=f"{key}:nudge",
                now=now,
            )
            return
        assert plan.told is not Told.ADMINS  # the stuck detector's alerts; never planned here
        if plan.told is Told.REQUESTER_AND_ASSIGNEE:
            assert plan.to_assignee is not None
            await enqueue(
                session,
                recipient_id=plan.to_assignee.id,
                payload=decide,
                idempotency_key=f"{key}:assignee",
                now=now,
            )
        await enqueue(
            session,
            recipient_id=request.requester_id,
            payload=RecoveryApplied(
                request_id=request.id,
                action=plan.action,
                workflow=request.workflow,
                stage=request.stage,
                status=request.status,
                reason=reason,
                by=actor.display_name,
            ),
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
        async def work(change: Change) -> None:
            request = await RequestRepository(change.session).by_id(request_id)
            change.session.add(
                WorkflowRecoveryLog(
                    request_id=request_id,
                    actor_id=actor_id,
                    action=action,
                    risk=spec(action).risk,
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

        # The recovery log row is the audit of a refused action: nothing else changed.
        await self.tx.run("recovery_stale", "request", work, audited=False)

    async def _fresh(self, request_id: int) -> Request | None:
        async with self.sessionmaker() as session:
            return await RequestRepository(session).by_id(request_id)
