"""Sets the gettext locale for the update: saved choice, else Telegram's, else the default."""

from __future__ import annotations

from typing import Any

from aiogram.types import TelegramObject
from aiogram.types import User as TgUser
from aiogram.utils.i18n import I18nMiddleware

from core.i18n import pick_locale
from database.models import User


class LocaleMiddleware(I18nMiddleware):
    """aiogram's I18nMiddleware (puts `i18n` into handler data and enters the locale) choosing
    the locale our way; handlers that render by hand also get it as `locale`."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user: User | None = data.get("user")
        tg_user: TgUser | None = data.get("event_from_user")
        locale = pick_locale(
            user.language if user else None,
            tg_user.language_code if tg_user else None,
            self.i18n.default_locale,
        )
        data["locale"] = locale
        return locale
