"""RequestService rules that need no Telegram: concurrency, atomicity, validation."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from core.enums import RequestStatus, Role
from core.exceptions import NotFound, StaleVersion, ValidationFailed
from database.models import PendingNotification, Request, RequestTransition, User
from services.requests import Line
from tests.conftest import World
from tests.factories import person, stock


async def user_id(world: World, telegram_id: int) -> int:
    async with world.app.sessionmaker() as session:
        return int(await session.scalar(select(User.id).where(User.telegram_id == telegram_id)))


async def count(world: World, model: type) -> int:  # type: ignore[type-arg]
    async with world.app.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_two_concurrent_approvals_exactly_one_wins(world: World) -> None:
    await stock(world, ("P-1", "Paper", 10))
    await person(world, 1, Role.REQUESTER)
    await person(world, 2, Role.MANAGER)
    await person(world, 3, Role.MANAGER)
    requester, m1, m2 = [await user_id(world, t) for t in (1, 2, 3)]
    request = await world.app.requests.create(requester, [Line(1, 2)])
    results = await asyncio.gather(
        world.app.requests.approve(request.id, m1, request.version),
        world.app.requests.approve(request.id, m2, request.version),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, Request)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1, results
    assert len(losers) == 1 and isinstance(losers[0], StaleVersion), results
    assert await count(world, RequestTransition) == 2  # create + one approve
    fresh = await world.app.requests.get(request.id)
    assert fresh is not None
    assert (fresh.stage, fresh.version) == ("warehouse_issue", 2)


async def test_create_validates_and_writes_nothing_on_failure(world: World) -> None:
    await stock(world, ("P-1", "Paper", 10))
    await person(world, 1, Role.REQUESTER)
    requester = await user_id(world, 1)
    with pytest.raises(ValidationFailed):
        await world.app.requests.create(requester, [])
    with pytest.raises(ValidationFailed):
        await world.app.requests.create(requester, [Line(1, 60), Line(1, 60)])  # 120 > 100
    with pytest.raises(NotFound):
        await world.app.requests.create(requester, [Line(1, 1), Line(999, 1)])
    assert await count(world, Request) == 0
    assert await count(world, RequestTransition) == 0
    assert await count(world, PendingNotification) == 0


async def test_notification_rows_are_written_with_the_change(world: World) -> None:
    await stock(world, ("P-1", "Paper", 10))
    await person(world, 1, Role.REQUESTER)
    await person(world, 2, Role.MANAGER)
    await person(world, 3, Role.MANAGER)
    request = await world.app.requests.create(await user_id(world, 1), [Line(1, 1)])
    async with world.app.sessionmaker() as session:
        notes = (await session.execute(select(PendingNotification))).unique().scalars().all()
    assert sorted((n.recipient.telegram_id, n.kind) for n in notes) == [
        (2, "approval_needed"),
        (3, "approval_needed"),
    ]
    assert all(n.payload["request_id"] == request.id for n in notes)
    assert len({n.idempotency_key for n in notes}) == 2
    # The assignee is the least loaded manager: a second request goes to the other one.
    second = await world.app.requests.create(await user_id(world, 1), [Line(1, 1)])
    assert {request.assignee_id, second.assignee_id} == {
        await user_id(world, 2),
        await user_id(world, 3),
    }
    assert request.status is RequestStatus.ACTIVE
