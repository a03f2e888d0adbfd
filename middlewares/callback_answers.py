"""Every button press is answered once, after its handler, by aiogram's CallbackAnswerMiddleware.

A handler that has something to say sets `callback_answer.text` (and `.show_alert`). Two
differences from aiogram's: a handler that fails leaves the answer to ErrorMiddleware, which
answers with the reference code; and a refusal ("query is too old" after a backlog) must not
turn work that is already committed into an error reply.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, TelegramObject
from aiogram.utils.callback_answer import CallbackAnswer, CallbackAnswerMiddleware

logger = logging.getLogger(__name__)


class ButtonAnswerMiddleware(CallbackAnswerMiddleware):
    def __init__(self) -> None:
        super().__init__(show_alert=False)  # a passing note unless the handler asks for an alert

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        async def run(event: TelegramObject, data: dict[str, Any]) -> Any:
            try:
                return await handler(event, data)
            except Exception:
                data["callback_answer"].disable()  # ErrorMiddleware answers, with the reference
                raise

        return await super().__call__(run, event, data)

    async def answer(  # type: ignore[override]  # aiogram awaits whatever answer() returns
        self, event: CallbackQuery, callback_answer: CallbackAnswer
    ) -> None:
        try:
            await super().answer(event, callback_answer)
        except TelegramBadRequest as exc:
            logger.info("callback answer refused (%s)", exc.message)
