"""Registering Telegram users, roles and language choices."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import SUPPORTED_LOCALES
from bot.errors import NotFound, ValidationFailed
from bot.i18n import N_
from database.enums import Role
from database.models import User, UserRole
from database.repositories.users import UserRepository


@dataclass(frozen=True)
class TelegramProfile:
    telegram_id: int
    full_name: str = ""
    username: str | None = None
    language_code: str | None = None


class UserService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        admin_ids: Iterable[int],
    ) -> None:
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.admin_ids = frozenset(admin_ids)

    async def register(self, profile: TelegramProfile) -> User:
        """Get or create the user, refreshing their Telegram details; config admins get admin."""
        async with self.sessionmaker() as session, session.begin():
            repo = UserRepository(session)
            user = await repo.by_telegram_id(profile.telegram_id)
            now = self.clock.now()
            if user is None:
                user = User(telegram_id=profile.telegram_id, created_at=now, is_active=True)
                user.roles = [UserRole(role=Role.REQUESTER, granted_at=now)]
                session.add(user)
            user.full_name = profile.full_name[:256]
            user.username = profile.username
            user.telegram_language = profile.language_code
            if profile.telegram_id in self.admin_ids and Role.ADMIN not in user.role_set:
                user.roles.append(UserRole(role=Role.ADMIN, granted_at=now))
            await session.flush()
            return user

    async def ensure_admins(self) -> None:
        """Make the ADMIN_IDS admins from the first start, before they ever write to the bot."""
        for telegram_id in self.admin_ids:
            await self.grant(telegram_id, Role.ADMIN)

    async def grant(self, telegram_id: int, role: Role) -> User:
        async with self.sessionmaker() as session, session.begin():
            user = await self._get_or_placeholder(session, telegram_id)
            if role not in user.role_set:
                user.roles.append(UserRole(role=role, granted_at=self.clock.now()))
            await session.flush()
            return user

    async def revoke(self, telegram_id: int, role: Role) -> User:
        async with self.sessionmaker() as session, session.begin():
            user = await UserRepository(session).by_telegram_id(telegram_id)
            if user is None:
                raise NotFound(
                    N_("No user with Telegram id {telegram_id}."), telegram_id=telegram_id
                )
            user.roles = [r for r in user.roles if r.role is not role]
            await session.flush()
            return user

    async def set_active(self, telegram_id: int, active: bool) -> User:
        async with self.sessionmaker() as session, session.begin():
            user = await UserRepository(session).by_telegram_id(telegram_id)
            if user is None:
                raise NotFound(
                    N_("No user with Telegram id {telegram_id}."), telegram_id=telegram_id
                )
            user.is_active = active
            return user

    async def set_language(self, user_id: int, language: str) -> None:
        if language not in SUPPORTED_LOCALES:
            raise ValidationFailed(N_("This language is not available."))
        async with self.sessionmaker() as session, session.begin():
            user = await UserRepository(session).by_id(user_id)
            if user is None:
                raise NotFound()
            user.language = language

    async def list_users(self) -> Sequence[User]:
        async with self.sessionmaker() as session:
            return await UserRepository(session).all()

    async def _get_or_placeholder(self, session: AsyncSession, telegram_id: int) -> User:
        # Roles can be granted before the person first writes to the bot.
        user = await UserRepository(session).by_telegram_id(telegram_id)
        if user is None:
            now = self.clock.now()
            user = User(telegram_id=telegram_id, full_name="", created_at=now, is_active=True)
            user.roles = [UserRole(role=Role.REQUESTER, granted_at=now)]
            session.add(user)
        return user
