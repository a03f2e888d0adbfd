from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from core.enums import RequestStatus, Role
from database.models import Request, User, UserRole


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_telegram_id(self, telegram_id: int) -> User | None:
        result = await self.session.execute(select(User).where(User.telegram_id == telegram_id))
        return result.scalar_one_or_none()

    async def with_roles(self, telegram_id: int) -> User | None:
        """The user and their roles in one statement (a join, not a second SELECT)."""
        result = await self.session.execute(
            select(User).options(joinedload(User.roles)).where(User.telegram_id == telegram_id)
        )
        return result.unique().scalar_one_or_none()

    async def by_id(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def by_ids(self, user_ids: Collection[int]) -> Sequence[User]:
        result = await self.session.execute(select(User).where(User.id.in_(set(user_ids))))
        return result.scalars().all()

    async def all(self) -> Sequence[User]:
        result = await self.session.execute(select(User).order_by(User.id))
        return result.scalars().all()

    async def with_menu_or_roles(self, roles: frozenset[Role]) -> Sequence[User]:
        """People holding any of `roles`, and whoever has a menu of their own set."""
        holds = select(UserRole.user_id).where(UserRole.role.in_(roles))
        query = (
            select(User)
            .where(User.id.in_(holds) | User.command_menu.is_not(None))
            .order_by(User.id)
        )
        return (await self.session.execute(query)).scalars().all()

    async def page(self, offset: int, limit: int) -> tuple[Sequence[User], int]:
        query = select(User).order_by(User.id).offset(offset).limit(limit)
        rows = (await self.session.execute(query)).scalars().all()
        return rows, int(await self.session.scalar(select(func.count(User.id))) or 0)

    async def active_holders(self, role: Role) -> Sequence[User]:
        query = (
            select(User)
            .join(UserRole)
            .where(UserRole.role == role, User.is_active.is_(True))
            .order_by(User.id)
        )
        return (await self.session.execute(query)).scalars().all()

    async def least_loaded_holder(self, role: Role, *, requester_id: int) -> User | None:
        """The active holder of `role` with the fewest active assigned requests, never the
        request's own requester (who may hold the role too, and would then be least loaded
        by having nothing to decide)."""
        load = (
            select(func.count(Request.id))
            .where(Request.assignee_id == User.id, Request.status == RequestStatus.ACTIVE)
            .scalar_subquery()
        )
        query = (
            select(User)
            .join(UserRole)
            .where(UserRole.role == role, User.is_active.is_(True), User.id != requester_id)
            .order_by(load, User.id)
            .limit(1)
        )
        return (await self.session.execute(query)).scalar_one_or_none()
