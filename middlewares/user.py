"""Gets or creates the user once per update and puts it into handler data as `user`, and
`new_user` (True on the update that registered them).

With the database unreachable, the last good copy of the user (up to an hour old) lets
read-only commands still answer; `degraded` tells handlers so."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.types import User as TgUser

from core.exceptions import PermissionDenied
from core.i18n import N_
from database.models import User
from services.failures.classify import database_unreachable
from services.users import TelegramProfile, UserService
from utils.degradation import LastGoodCache


class UserMiddleware(BaseMiddleware):
    def __init__(self, users: UserService, cache: LastGoodCache[int, User]) -> None:
        self.users = users
        self.cache = cache

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        tg_user: TgUser | None = data.get("event_from_user")
        if tg_user is None or tg_user.is_bot:
            return await handler(event, data)
        profile = TelegramProfile(
            telegram_id=tg_user.id,
            full_name=tg_user.full_name,
            username=tg_user.username,
            language_code=tg_user.language_code,
        )
        created = False

        async def register() -> User:
            nonlocal created
            registration = await self.users.register(profile)
            created = registration.created
            return registration.user

        fetched = await self.cache.fetch(tg_user.id, register, degrade_on=database_unreachable)
        user = fetched.value
        if not user.is_active:
            raise PermissionDenied(N_("Your access to this bot is turned off. Ask an admin."))
        data["user"] = user
        data["new_user"] = created
        data["degraded"] = fetched.stale
        return await handler(event, data)
