"""Outermost middleware: whatever fails below (the database included), the person gets a
short reply in their language with a reference code, a pressed button stops spinning, and the
failure is recorded, correlated and handed to the healer."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TgUser
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from core.context import HANDLING_UPDATE
from core.fitting import alert
from core.i18n import N_, pick_locale, render
from services.failures.classify import FailureContext
from services.failures.recorder import ErrorRecorder, Recorded
from utils.circuit_breaker import CircuitOpenError
from utils.healing import Healer, HealingContext

logger = logging.getLogger(__name__)

REFERENCE_LINE = N_("Reference: {reference}")


@dataclass
class HandlerScope:
    """Filled by an inner middleware with the handler that ran, so a failure says where."""

    name: str | None = None


class ErrorMiddleware(BaseMiddleware):
    def __init__(self, i18n: I18n, recorder: ErrorRecorder, healer: Healer | None = None) -> None:
        self.i18n = i18n
        self.recorder = recorder
        self.healer = healer

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        scope = HandlerScope()
        data["handler_scope"] = scope
        token = HANDLING_UPDATE.set(True)
        try:
            return await handler(event, data)
        except Exception as exc:
            recorded = await self.recorder.record(exc, self._context(event, data, scope))
            if recorded.reference and self.healer is not None:
                self.healer.submit(
                    HealingContext(
                        category=recorded.failure.category.value,
                        fingerprint=recorded.failure.fingerprint,
                        reference=recorded.reference,
                        error=exc,
                        details={"database_down": recorded.failure.database_down},
                    )
                )
            await self._tell(event, data, recorded)
        finally:
            HANDLING_UPDATE.reset(token)
        return None

    @staticmethod
    def _context(
        event: TelegramObject, data: dict[str, Any], scope: HandlerScope
    ) -> FailureContext:
        user: TgUser | None = data.get("event_from_user")
        chat = data.get("event_chat")
        update = event if isinstance(event, Update) else None
        callback = update.callback_query if update else None
        return FailureContext(
            source="update",
            handler=scope.name,
            update_id=update.update_id if update else None,
            user_id=user.id if user else None,
            chat_id=chat.id if chat is not None else None,
            callback_data=callback.data if callback else None,
        )

    async def _tell(self, event: TelegramObject, data: dict[str, Any], recorded: Recorded) -> None:
        if not isinstance(event, Update):
            return
        bot: Bot = data["bot"]
        user: TgUser | None = data.get("event_from_user")
        locale = data.get("locale") or pick_locale(
            None, user.language_code if user else None, self.i18n.default_locale
        )
        failure = recorded.failure
        with self.i18n.context(), self.i18n.use_locale(locale):
            text = render(failure.message, failure.params)
            if recorded.reference:
                text += "\n" + _(REFERENCE_LINE).format(reference=recorded.reference)
        try:
            if event.callback_query is not None:
                # An alert on the button itself; the spinner stops either way.
                await event.callback_query.answer(alert(text), show_alert=True)
            elif event.message is not None:
                await bot.send_message(event.message.chat.id, text)
        except (TelegramAPIError, CircuitOpenError):
            logger.warning("could not tell the user about %s", recorded.reference)
