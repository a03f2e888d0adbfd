"""What a recovery action on a request would do: the `Plan` the admin confirms.

The actions are rows of services/recovery/spec.py (risk, availability, move, who is told); this
module checks a request against its row and answers, from the database, what the row's move
asks: the least-loaded holder, where the request came from, whether the admin's pick may take it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import RecoveryAction, RequestStatus, Risk
from core.exceptions import (
    InvalidTransition,
    NotFound,
    PermissionDenied,
    StaleVersion,
    ValidationFailed,
)
from core.i18n import N_
from core.workflows import Stage, Workflow, WorkflowRegistry
from database.models import Request, User
from database.repositories.requests import RequestRepository
from database.repositories.users import UserRepository
from services.recovery.spec import (
    MOVES,
    Destination,
    Situation,
    Told,
    may_run,
    offered_actions,
    spec,
)

NOT_NOW = N_("This action is not available for this request now.")


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
    told: Told  # who this plan's notifications reach


@dataclass(frozen=True)
class _Moving:
    """The `MoveContext` a row's move asks while one request is planned."""

    session: AsyncSession
    request: Request
    workflow: Workflow | None
    stage: Stage | None
    target_user_id: int | None

    @property
    def here(self) -> Destination:
        return Destination(self.request.stage, RequestStatus.ACTIVE, self.request.assignee)

    async def holder(self, stage: Stage) -> User | None:
        return await UserRepository(self.session).least_loaded_holder(
            stage.role, requester_id=self.request.requester_id
        )

    async def came_from(self) -> Stage:
        assert self.workflow is not None and self.stage is not None
        key = await RequestRepository(self.session).came_from(self.request.id, self.stage.key)
        found = self.workflow.stage(key) if key else None
        previous = found or self.workflow.previous_stage(self.stage.key)
        assert previous is not None  # availability asked for a previous stage
        return previous

    async def chosen(self) -> User | None:
        if self.target_user_id is None:
            return None
        user_id, stage = self.target_user_id, self.stage
        assert stage is not None
        target = await UserRepository(self.session).by_id(user_id) if user_id else None
        if (
            target is None
            or not target.is_active
            or stage.role not in target.role_set
            or target.id == self.request.assignee_id
        ):
            raise ValidationFailed(N_("Choose someone else who holds the stage's role."))
        return target


class Planner:
    def __init__(self, workflows: WorkflowRegistry) -> None:
        self.workflows = workflows

    def _where(self, request: Request) -> tuple[Workflow | None, Stage | None]:
        workflow = self.workflows.get(request.workflow)
        return workflow, workflow.stage(request.stage) if workflow and request.stage else None

    def available(self, request: Request) -> list[RecoveryAction]:
        """The actions that make sense for this request now (before permissions)."""
        if request.status is not RequestStatus.ACTIVE:
            return []
        workflow, stage = self._where(request)
        return offered_actions(Situation.of(workflow, stage, request.assignee_id is not None))

    async def candidates(self, session: AsyncSession, request: Request) -> list[User]:
        """Who the request can be reassigned to: active holders of the stage's role."""
        _workflow, stage = self._where(request)
        if stage is None:
            raise InvalidTransition(NOT_NOW)
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
            raise InvalidTransition(NOT_NOW)
        row = spec(action)
        workflow, stage = self._where(request)
        to = await MOVES[row.move](_Moving(session, request, workflow, stage, target_user_id))
        return Plan(
            action=action,
            risk=row.risk,
            request_id=request.id,
            version=request.version,
            workflow=request.workflow,
            from_stage=request.stage,
            to_stage=to.stage,
            to_status=to.status,
            to_assignee=to.assignee,
            skips_stock_issue=to.skips_stock_issue,
            told=row.told.reaching(to),
        )
