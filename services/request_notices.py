"""The notifications a request's step writes into the outbox, inside the step's transaction.

The idempotency key names the transition and the recipient, so a retried step never queues
the same notice twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.workflows import Stage, Workflow
from database.models import Request, RequestTransition, User
from database.repositories.users import UserRepository
from outbox.payloads import ApprovalNeeded, ItemLine, Payload
from outbox.repository import enqueue


async def notify_stage(
    session: AsyncSession,
    now: datetime,
    request: Request,
    workflow: Workflow,
    stage: Stage,
    transition: RequestTransition,
    requester: User,
) -> None:
    await session.flush()
    holders = await UserRepository(session).active_holders(stage.role)
    payload = ApprovalNeeded(
        request_id=request.id,
        version=request.version,
        workflow=workflow.key,
        stage=stage.key,
        requester=requester.display_name,
        items=request_lines(request),
    )
    for holder in holders:
        if holder.id == requester.id:
            continue
        await notify(session, now, holder, transition, payload)


def request_lines(request: Request) -> tuple[ItemLine, ...]:
    """The request's lines as a decider's notification lists them."""
    return tuple(
        ItemLine(name=line.item.name, quantity=line.quantity, unit=line.item.unit)
        for line in request.items
    )


async def notify(
    session: AsyncSession,
    now: datetime,
    recipient: User,
    transition: RequestTransition,
    payload: Payload,
) -> None:
    await enqueue(
        session,
        recipient_id=recipient.id,
        payload=payload,
        idempotency_key=f"transition:{transition.id}:{payload.kind}:{recipient.id}",
        now=now,
    )
