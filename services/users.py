"""Registering Telegram users, roles and language choices."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.enums import Role
from core.exceptions import NotFound, ValidationFailed
from core.i18n import N_
from core.settings import SUPPORTED_LOCALES
from database.models import User, UserRole
from database.repositories.users import UserRepository
from services.transactions import Change, TransactionalStateManager

STAFF_ROLES = frozenset({Role.ADMIN, Role.SUPPORT})


def is_staff(roles: frozenset[Role]) -> bool:
    """Admins and support: the people the staff screens are for."""
    return bool(roles & STAFF_ROLES)


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
        tx: TransactionalStateManager,
        clock: Clock,
        admin_ids: Iterable[int],
    ) -> None:
        self.sessionmaker = sessionmaker
        self.tx = tx
        self.clock = clock
        self.admin_ids = frozenset(admin_ids)

    async def register(self, profile: TelegramProfile) -> User:
        """Get or create the user, refreshing their Telegram details; config admins get admin."""

        async def work(change: Change) -> User:
            session = change.session
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

        # Runs for every update: bookkeeping of who wrote, not a state change to audit.
        return await self.tx.run("register_user", "user", work, audited=False)

    async def ensure_admins(self) -> None:
        """Make the ADMIN_IDS admins from the first start, before they ever write to the bot."""
        for telegram_id in self.admin_ids:
            await self.grant(telegram_id, Role.ADMIN)

    async def grant(self, telegram_id: int, role: Role) -> User:
        def mutate(user: User) -> None:
            if role not in user.role_set:
                user.roles.append(UserRole(role=role, granted_at=self.clock.now()))

        # Roles can be granted before the person first writes to the bot.
        return await self._change("grant_role", telegram_id, mutate, create=True)

    async def revoke(self, telegram_id: int, role: Role) -> User:
        def mutate(user: User) -> None:
            user.roles = [r for r in user.roles if r.role is not role]

        return await self._change("revoke_role", telegram_id, mutate)

    async def set_active(self, telegram_id: int, active: bool) -> User:
        def mutate(user: User) -> None:
            user.is_active = active

        return await self._change("activate" if active else "deactivate", telegram_id, mutate)

    async def _change(
        self,
        operation: str,
        telegram_id: int,
        mutate: Callable[[User], None],
        *,
        create: bool = False,
    ) -> User:
        async def work(change: Change) -> User:
            session = change.session
            user = await UserRepository(session).by_telegram_id(telegram_id)
            if user is None and create:
                user = self._placeholder(session, telegram_id)
            if user is None:
                raise NotFound(
                    N_("No user with Telegram id {telegram_id}."), telegram_id=telegram_id
                )
            change.before = audit(user) if user.id else None
            mutate(user)
            await session.flush()
            change.entity_id, change.after = user.id, audit(user)
            return user

        return await self.tx.run(operation, "user", work)

    async def set_language(self, user_id: int, language: str) -> None:
        if language not in SUPPORTED_LOCALES:
            raise ValidationFailed(N_("This language is not available."))

        async def work(change: Change) -> None:
            user = await UserRepository(change.session).by_id(user_id)
            if user is None:
                raise NotFound()
            user.language = language

        # A preference, not a step of any workflow: no transaction_log row.
        await self.tx.run("set_language", "user", work, entity_id=user_id, audited=False)

    async def list_users(self) -> Sequence[User]:
        async with self.sessionmaker() as session:
            return await UserRepository(session).all()

    async def page(self, offset: int, limit: int) -> tuple[Sequence[User], int]:
        """A page of users in id order, and how many there are."""
        async with self.sessionmaker() as session:
            return await UserRepository(session).page(offset, limit)

    def _placeholder(self, session: AsyncSession, telegram_id: int) -> User:
        now = self.clock.now()
        user = User(telegram_id=telegram_id, full_name="", created_at=now, is_active=True)
        user.roles = [UserRole(role=Role.REQUESTER, granted_at=now)]
        session.add(user)
        return user


def audit(user: User) -> dict[str, object]:
    return {
        "telegram_id": user.telegram_id,
        "roles": sorted(r.value for r in user.role_set),
        "is_active": user.is_active,
    }
