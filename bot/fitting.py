"""The last line of `core/fitting.py`: a request middleware that keeps every text the bot sends
within Telegram's limits, whoever built it.

Screens, edits and notifications fit themselves (they know what to leave out and say how
much); a text that reaches Telegram still too long is a screen that did not, so it is cut here
and logged as a warning, instead of being refused ("message is too long") with the person told
nothing or "Something went wrong"."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.client.default import Default
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.enums import ParseMode
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage, TelegramMethod
from aiogram.methods.base import Response, TelegramType

from core.fitting import ALERT_LIMIT, MESSAGE_LIMIT, alert, clip, cut_html, size

logger = logging.getLogger(__name__)


class FitRequestMiddleware(BaseRequestMiddleware):
    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if isinstance(method, SendMessage | EditMessageText):
            text = method.text or ""
            if size(text) > MESSAGE_LIMIT:
                logger.warning(
                    "%s of %d characters cut to fit: the screen did not fit itself",
                    type(method).__name__,
                    size(text),
                )
                mode = method.parse_mode
                html = isinstance(mode, Default) or mode == ParseMode.HTML
                method.text = cut_html(text) if html else clip(text, MESSAGE_LIMIT)
        if isinstance(method, AnswerCallbackQuery) and size(method.text or "") > ALERT_LIMIT:
            logger.warning("an answer of %d characters cut to fit", size(method.text or ""))
            method.text = alert(method.text or "")
        return await make_request(bot, method)
