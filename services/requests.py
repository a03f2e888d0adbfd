"""Requests moving through their workflow: create, approve (and issue stock), reject.

Each public method is one database transaction: the request, its transition row, any ledger
movement and the outbox rows commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.enums import (
    RequestStatus,
    Role,
    TransactionKind,
    TransactionStatus,
    TransitionAction,
)
from core.exceptions import (
    InsufficientStock,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    StaleVersion,
    ValidationFailed,
)
from core.i18n import N_, Msg
from core.names import ROLE_NAMES
from core.workflows import Stage, Workflow, WorkflowRegistry
from database.models import (
    InventoryTransaction,
    Request,
    RequestItem,
    RequestTransition,
    User,
)
from database.repositories.inventory import InventoryRepository
from database.repositories.requests import RequestRepository, RequestSummary
from database.repositories.users import UserRepository
from outbox.payloads import RequestAdvanced, RequestCompleted, RequestRejected
from services.request_notices import notify, notify_stage
from services.transactions import Change, TransactionalStateManager
from services.users import acting
from utils.digits import is_digits

MAX_REASON_LENGTH = 1000
MAX_LINES = 20


def snapshot(request: Request) -> dict[str, object]:
    """The audited state of a request, for the transaction log's before/after."""
    return {
        "stage": request.stage,
        "status": request.status.value,
        "assignee_id": request.assignee_id,
        "version": request.version,
    }


@dataclass(frozen=True)
class Line:
    item_id: int
    quantity: int


class RequestService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        tx: TransactionalStateManager,
        workflows: WorkflowRegistry,
        clock: Clock,
        max_quantity: int,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.tx = tx
        self.workflows = workflows
        self.clock = clock
        self.max_quantity = max_quantity

    def check_quantity(self, text: str) -> int:
        """Parse a typed quantity: a whole positive number not above the configured maximum."""
        value = text.strip()
        if not is_digits(value):
            raise ValidationFailed(
                N_("Please send the quantity as a whole number, for example 3.")
            )
        quantity = int(value)
        if quantity < 1:
            raise ValidationFailed(N_("The quantity must be at least 1."))
        if quantity > self.max_quantity:
            raise ValidationFailed(
                N_("The quantity cannot be more than {maximum}."), maximum=self.max_quantity
            )
        return quantity

    async def create(self, requester_id: int, lines: Sequence[Line]) -> Request:
        if not lines:
            raise ValidationFailed(N_("Add at least one item before submitting."))
        if len(lines) > MAX_LINES:
            raise ValidationFailed(
                N_("A request can hold at most {count} items."), count=MAX_LINES
            )
        merged: dict[int, int] = {}
        for line in lines:
            merged[line.item_id] = merged.get(line.item_id, 0) + line.quantity
        if any(q < 1 or q > self.max_quantity for q in merged.values()):
            raise ValidationFailed(
                N_("The quantity cannot be more than {maximum}."), maximum=self.max_quantity
            )
        workflow = self.workflows.default
        stage = workflow.stages[0]
        now = self.clock.now()

        async def work(change: Change) -> Request:
            session = change.session
            requester = await acting(session, requester_id)
            items = await InventoryRepository(session).lock_items(list(merged))
            if set(items) != set(merged) or not all(i.is_active for i in items.values()):
                raise NotFound(N_("That item is no longer available."))
            assignee = await UserRepository(session).least_loaded_holder(
                stage.role, requester_id=requester.id
            )
            request = Request(
                workflow=workflow.key,
                stage=stage.key,
                status=RequestStatus.ACTIVE,
                requester_id=requester.id,
                assignee_id=assignee.id if assignee else None,
                stage_entered_at=now,
                created_at=now,
                updated_at=now,
            )
            request.items = [RequestItem(item=items[i], quantity=q) for i, q in merged.items()]
            session.add(request)
            await session.flush()
            transition = self._transition(
                request, None, None, TransitionAction.CREATE, requester.id, None
            )
            session.add(transition)
            await session.flush()
            await notify_stage(
                session, self.clock.now(), request, workflow, stage, transition, requester
            )
            change.entity_id, change.after = request.id, snapshot(request)
            return await self._reload(session, request.id)

        return await self.tx.run("create_request", "request", work, actor_id=requester_id)

    async def approve(self, request_id: int, actor_id: int, expected_version: int) -> Request:
        async def work(change: Change) -> Request:
            session = change.session
            request, workflow, stage, actor = await self._load_for_decision(
                session, request_id, actor_id, expected_version
            )
            change.before = snapshot(request)
            if stage.issues_stock:
                await self._issue_stock(session, request, actor)
            next_stage = workflow.next_stage(stage.key)
            now = self.clock.now()
            from_stage, from_status = request.stage, request.status
            assignee: User | None = None
            if next_stage is None:
                request.stage, request.status, request.assignee_id = (
                    None,
                    RequestStatus.COMPLETED,
                    None,
                )
            else:
                assignee = await UserRepository(session).least_loaded_holder(
                    next_stage.role, requester_id=request.requester_id
                )
                request.stage = next_stage.key
                request.assignee_id = assignee.id if assignee else None
            request.stage_entered_at = request.updated_at = now
            transition = self._transition(
                request, from_stage, from_status, TransitionAction.APPROVE, actor.id, None
            )
            session.add(transition)
            await session.flush()
            requester = request.requester
            if next_stage is None:
                await notify(
                    session,
                    now,
                    requester,
                    transition,
                    RequestCompleted(
                        request_id=request.id,
                        workflow=workflow.key,
                        issued=any(s.issues_stock for s in workflow.stages),
                    ),
                )
            else:
                await notify_stage(
                    session, now, request, workflow, next_stage, transition, requester
                )
                await notify(
                    session,
                    now,
                    requester,
                    transition,
                    RequestAdvanced(
                        request_id=request.id,
                        workflow=workflow.key,
                        stage=next_stage.key,
                        assignee=assignee.display_name if assignee else None,
                    ),
                )
            change.after = snapshot(request)
            return await self._reload(session, request.id)

        return await self.tx.run(
            "approve", "request", work, actor_id=actor_id, entity_id=request_id
        )

    async def reject(
        self, request_id: int, actor_id: int, expected_version: int, reason: str
    ) -> Request:
        reason = reason.strip()
        if not reason:
            raise ValidationFailed(N_("Please write a reason for the rejection."))
        if len(reason) > MAX_REASON_LENGTH:
            raise ValidationFailed(
                N_("The reason is too long: at most {limit} characters."),
                limit=MAX_REASON_LENGTH,
            )

        async def work(change: Change) -> Request:
            session = change.session
            request, workflow, _stage, actor = await self._load_for_decision(
                session, request_id, actor_id, expected_version
            )
            change.before = snapshot(request)
            from_stage, from_status = request.stage, request.status
            request.stage, request.status, request.assignee_id = (
                None,
                RequestStatus.REJECTED,
                None,
            )
            request.stage_entered_at = request.updated_at = self.clock.now()
            transition = self._transition(
                request, from_stage, from_status, TransitionAction.REJECT, actor.id, reason
            )
            session.add(transition)
            await session.flush()
            await notify(
                session,
                self.clock.now(),
                request.requester,
                transition,
                RequestRejected(
                    request_id=request.id,
                    workflow=workflow.key,
                    stage=from_stage,
                    reason=reason,
                    by=actor.display_name,
                ),
            )
            change.after = snapshot(request)
            return await self._reload(session, request.id)

        return await self.tx.run(
            "reject", "request", work, actor_id=actor_id, entity_id=request_id
        )

    async def check_decision(self, request_id: int, actor_id: int, expected_version: int) -> None:
        """Raise the error a decision would meet now, before asking the user for a reason."""
        async with self.sessionmaker() as session:
            await self._load_for_decision(session, request_id, actor_id, expected_version)

    async def get(self, request_id: int) -> Request | None:
        async with self.sessionmaker() as session:
            return await RequestRepository(session).by_id(request_id)

    async def history(self, request_id: int) -> Sequence[RequestTransition]:
        async with self.sessionmaker() as session:
            return await RequestRepository(session).transitions(request_id)

    async def names(self, user_ids: Sequence[int]) -> dict[int, str]:
        """Display names by user id, for showing who did what."""
        if not user_ids:
            return {}
        async with self.sessionmaker() as session:
            return {u.id: u.display_name for u in await UserRepository(session).by_ids(user_ids)}

    async def for_requester(
        self, requester_id: int, page: int, size: int
    ) -> tuple[list[RequestSummary], int]:
        """One page of the requester's requests and their total: one read statement."""
        async with self.sessionmaker() as session:
            return await RequestRepository(session).for_requester(requester_id, page * size, size)

    async def _load_for_decision(
        self, session: AsyncSession, request_id: int, actor_id: int, expected_version: int
    ) -> tuple[Request, Workflow, Stage, User]:
        request = await RequestRepository(session).by_id(request_id)
        if request is None:
            raise NotFound(N_("Request #{request_id} does not exist."), request_id=request_id)
        actor = await acting(session, actor_id)
        workflow = self.workflows.get(request.workflow)
        stage = workflow.stage(request.stage) if workflow and request.stage else None
        if request.status is not RequestStatus.ACTIVE or workflow is None or stage is None:
            raise InvalidTransition()
        if request.version != expected_version:
            raise StaleVersion()
        if stage.role not in actor.role_set:
            raise PermissionDenied(
                N_("Only someone with the {role} role can decide on this stage."),
                role=Msg(ROLE_NAMES[stage.role]),
            )
        if actor.id == request.requester_id and Role.ADMIN not in actor.role_set:
            raise PermissionDenied(N_("You cannot decide on your own request."))
        return request, workflow, stage, actor

    async def _issue_stock(self, session: AsyncSession, request: Request, actor: User) -> None:
        repo = InventoryRepository(session)
        items = await repo.lock_items([line.item_id for line in request.items])
        now = self.clock.now()
        for line in request.items:
            item = items[line.item_id]
            if item.stock < line.quantity:
                raise InsufficientStock(
                    item=item.name, requested=line.quantity, available=item.stock
                )
        for line in request.items:
            item = items[line.item_id]
            item.stock -= line.quantity
            item.updated_at = now
            repo.add_transaction(
                InventoryTransaction(
                    item_id=item.id,
                    request_id=request.id,
                    request_item_id=line.id,
                    kind=TransactionKind.ISSUE,
                    quantity=-line.quantity,
                    status=TransactionStatus.COMMITTED,
                    actor_id=actor.id,
                    created_at=now,
                    committed_at=now,
                )
            )

    def _transition(
        self,
        request: Request,
        from_stage: str | None,
        from_status: RequestStatus | None,
        action: TransitionAction,
        actor_id: int | None,
        reason: str | None,
    ) -> RequestTransition:
        return RequestTransition(
            request_id=request.id,
            from_stage=from_stage,
            to_stage=request.stage,
            from_status=from_status,
            to_status=request.status,
            actor_id=actor_id,
            action=action,
            reason=reason,
            created_at=self.clock.now(),
        )

    async def _reload(self, session: AsyncSession, request_id: int) -> Request:
        await session.flush()
        request = await RequestRepository(session).by_id(request_id)
        assert request is not None
        await session.refresh(request, ["items", "assignee", "requester"])
        return request
