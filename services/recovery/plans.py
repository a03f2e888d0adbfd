"""What a recovery action on a request would do, and who may run it.

Every action carries a risk; support may run only the low-risk ones. A `Plan` says exactly what
an action will change, for the confirmation screen and for the transaction that applies it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import RecoveryAction, RequestStatus, Risk, Role
from core.exceptions import (
    InvalidTransition,
    NotFound,
    PermissionDenied,
    StaleVersion,
    ValidationFailed,
)
from core.i18n import N_
from core.workflows import Stage, Workflow, WorkflowRegistry
from database.models import Request, RequestTransition, User
from database.repositories.users import UserRepository

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


def may_run(roles: frozenset[Role], action: RecoveryAction) -> bool:
    """Admins may do everything; support only what carries a low risk."""
    if Role.ADMIN in roles:
        return True
    return Role.SUPPORT in roles and RISK.get(action) is Risk.LOW


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


class Planner:
    def __init__(self, workflows: WorkflowRegistry) -> None:
        self.workflows = workflows

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

    async def candidates(self, session: AsyncSession, request: Request) -> list[User]:
        """Who the request can be reassigned to: active holders of the stage's role."""
        workflow = self.workflows.get(request.workflow)
        stage = workflow.stage(request.stage) if workflow and request.stage else None
        if stage is None:
            raise InvalidTransition(N_("This action is not available for this request now."))
        holders = await UserRepository(session).active_holders(stage.role)
        return [u for u in holders if u.id != request.assignee_id]

    async def plan(
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
        holders = UserRepository(session)
        if action is RecoveryAction.REASSIGN:
            assert stage is not None
            # Without a target this only checks that reassigning is possible at all.
            if target_user_id is not None:
                to_assignee = await self._target(session, request, stage, target_user_id)
        elif action is RecoveryAction.RESET:
            assert workflow is not None and stage is not None
            back = await self._previous(session, request, workflow, stage)
            to_stage = back.key
            to_assignee = await holders.least_loaded_holder(back.role)
        elif action is RecoveryAction.FORCE_TRANSITION:
            assert workflow is not None and stage is not None
            forward = workflow.next_stage(stage.key)
            assert forward is not None
            to_stage, skips = forward.key, stage.issues_stock
            to_assignee = await holders.least_loaded_holder(forward.role)
        elif action is RecoveryAction.FORCE_COMPLETE:
            to_stage, to_status, to_assignee = None, RequestStatus.COMPLETED, None
            skips = _stock_pending(workflow, stage)
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

    @staticmethod
    async def _target(
        session: AsyncSession, request: Request, stage: Stage, user_id: int | None
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

    @staticmethod
    async def _previous(
        session: AsyncSession, request: Request, workflow: Workflow, stage: Stage
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


def _stock_pending(workflow: Workflow | None, stage: Stage | None) -> bool:
    if workflow is None or stage is None:
        return False
    keys = [s.key for s in workflow.stages]
    return any(s.issues_stock for s in workflow.stages[keys.index(stage.key) :])
