"""Sets the gettext locale for the update: saved choice, else Telegram's, else the default."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.types import User as TgUser
from aiogram.utils.i18n import I18n

from core.i18n import pick_locale
from database.models import User


class LocaleMiddleware(BaseMiddleware):
    def __init__(self, i18n: I18n) -> None:
        self.i18n = i18n

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("user")
        tg_user: TgUser | None = data.get("event_from_user")
        locale = pick_locale(
            user.language if user else None,
            tg_user.language_code if tg_user else None,
            self.i18n.default_locale,
        )
        data["locale"] = locale
        data["i18n"] = self.i18n
        with self.i18n.context(), self.i18n.use_locale(locale):
            return await handler(event, data)
