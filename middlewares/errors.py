"""Outermost middleware: whatever a handler raises, the person gets a reply in their language
and a pressed button stops spinning. Domain errors carry their own message."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TgUser
from aiogram.utils.i18n import I18n

from bot.errors import DomainError
from bot.i18n import N_, pick_locale, render

logger = logging.getLogger(__name__)

GENERIC_FAILURE = N_("Something went wrong on our side. Please try again later.")


class ErrorMiddleware(BaseMiddleware):
    def __init__(self, i18n: I18n) -> None:
        self.i18n = i18n

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            return await handler(event, data)
        except DomainError as exc:
            await self._tell(event, data, exc.message, exc.params, alert=True)
        except Exception:
            logger.exception("update %s failed", getattr(event, "update_id", "?"))
            await self._tell(event, data, GENERIC_FAILURE, {}, alert=False)
        return None

    async def _tell(
        self,
        event: TelegramObject,
        data: dict[str, Any],
        message: str,
        params: dict[str, Any],
        *,
        alert: bool,
    ) -> None:
        if not isinstance(event, Update):
            return
        bot: Bot = data["bot"]
        user: TgUser | None = data.get("event_from_user")
        locale = data.get("locale") or pick_locale(
            None, user.language_code if user else None, self.i18n.default_locale
        )
        with self.i18n.context(), self.i18n.use_locale(locale):
            text = render(message, params)
        try:
            if event.callback_query is not None:
                # A short alert on the button itself; the spinner stops either way.
                await event.callback_query.answer(text[:200], show_alert=alert)
            elif event.message is not None:
                await bot.send_message(event.message.chat.id, text)
        except TelegramAPIError:
            logger.warning("could not tell the user about the failure", exc_info=True)
