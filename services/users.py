"""Registering Telegram users, roles and language choices.

`register` runs for every update. It answers from a short-lived per-user cache
(`USER_CACHE_SECONDS`) while the person's Telegram details are unchanged; otherwise it reads
the user and their roles in one statement and opens a write transaction only when something
changed (a new person, a new name, username or Telegram language, a config admin without the
role). Every change made through this service (grant, revoke, activate/deactivate, language)
drops that person from the cache at once; a change made by another process (another replica,
the command line) is seen within `USER_CACHE_SECONDS`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.enums import Role
from core.exceptions import NotFound, PermissionDenied, ValidationFailed
from core.i18n import N_
from core.settings import SUPPORTED_LOCALES
from database.engine import read_connection
from database.models import User, UserRole
from database.repositories.users import UserRepository
from services.transactions import Change, TransactionalStateManager
from utils.ttl_cache import TtlCache

STAFF_ROLES = frozenset({Role.ADMIN, Role.SUPPORT})


def is_staff(roles: frozenset[Role]) -> bool:
    """Admins and support: the people the staff screens are for."""
    return bool(roles & STAFF_ROLES)


def is_admin(roles: frozenset[Role]) -> bool:
    return Role.ADMIN in roles


def anyone(roles: frozenset[Role]) -> bool:
    return True


async def acting(
    session: AsyncSession,
    actor_id: int,
    allowed: Callable[[frozenset[Role]], bool] = anyone,
    refusal: str | None = None,
) -> User:
    """The actor as the database has them in the caller's transaction, not as a handler's
    cached copy (USER_CACHE_SECONDS) remembers them: a role revoked or a person deactivated by
    another process counts at once. Inactive, gone or without an `allowed` role: refused with
    `refusal` (the action's own words), and the caller's transaction applies nothing."""
    actor = await UserRepository(session).by_id(actor_id)
    if actor is None or not actor.is_active or not allowed(actor.role_set):
        raise PermissionDenied(refusal)
    return actor


@dataclass(frozen=True)
class TelegramProfile:
    telegram_id: int
    full_name: str = ""
    username: str | None = None
    language_code: str | None = None


@dataclass(frozen=True)
class Registration:
    user: User
    created: bool  # this update is the first we hear from the person


class UserService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        tx: TransactionalStateManager,
        clock: Clock,
        admin_ids: Iterable[int],
        *,
        cache_seconds: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.tx = tx
        self.clock = clock
        self.admin_ids = frozenset(admin_ids)
        # telegram id -> (the details it was registered with, the user): shared, read-only
        self._cache: TtlCache[int, tuple[TelegramProfile, User]] = TtlCache(
            ttl=cache_seconds, clock=monotonic
        )

    async def register(self, profile: TelegramProfile) -> Registration:
        """Get or create the user, refreshing their Telegram details; config admins get admin."""
        cached = self._cache.get(profile.telegram_id)
        if cached is not None and cached[0] == profile:
            return Registration(cached[1], created=False)
        generation = self._cache.generation()
        async with self.sessionmaker() as session:
            await read_connection(session)  # one statement: no transaction around it
            user = await UserRepository(session).with_roles(profile.telegram_id)
        if user is None or self._outdated(user, profile):
            # Bookkeeping of who wrote, not a state change to audit.
            registration = await self.tx.run(
                "register_user", "user", lambda change: self._write(change, profile), audited=False
            )
        else:
            registration = Registration(user, created=False)
        self._cache.put(profile.telegram_id, (profile, registration.user), since=generation)
        return registration

    def _outdated(self, user: User, profile: TelegramProfile) -> bool:
        return (
            user.full_name != profile.full_name[:256]
            or user.username != profile.username
            or user.telegram_language != profile.language_code
            or (profile.telegram_id in self.admin_ids and Role.ADMIN not in user.role_set)
        )

    async def _write(self, change: Change, profile: TelegramProfile) -> Registration:
        session = change.session
        user = await UserRepository(session).with_roles(profile.telegram_id)
        now = self.clock.now()
        # A first contact: no row yet, or the placeholder a role grant made (Telegram names
        # are never empty, so a row without one has not heard from the person).
        created = user is None or not user.full_name
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
        return Registration(user, created=created)

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

        try:
            return await self.tx.run(operation, "user", work)
        finally:
            self._cache.invalidate(telegram_id)  # takes effect at this person's next update

    async def set_language(self, user_id: int, language: str) -> None:
        if language not in SUPPORTED_LOCALES:
            raise ValidationFailed(N_("This language is not available."))

        async def work(change: Change) -> int:
            user = await UserRepository(change.session).by_id(user_id)
            if user is None:
                raise NotFound()
            user.language = language
            return user.telegram_id

        # A preference, not a step of any workflow: no transaction_log row.
        try:
            telegram_id = await self.tx.run(
                "set_language", "user", work, entity_id=user_id, audited=False
            )
        except BaseException:
            self._cache.clear()  # which person it was is not known here: forget them all
            raise
        self._cache.invalidate(telegram_id)

    async def menu_holders(self) -> Sequence[User]:
        """Staff, and anyone whose chat still has a staff menu: whose menu may be due."""
        async with self.sessionmaker() as session:
            return await UserRepository(session).with_menu_or_roles(STAFF_ROLES)

    async def set_command_menu(self, user_id: int, menu: str | None) -> None:
        async def work(change: Change) -> None:
            user = await UserRepository(change.session).by_id(user_id)
            if user is not None:
                user.command_menu = menu

        # What Telegram was told, kept so it is told again only on a change.
        await self.tx.run("set_command_menu", "user", work, entity_id=user_id, audited=False)

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
