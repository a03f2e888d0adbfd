"""Editing a message after the work is done must not turn success into an error reply; what is
edited or sent anew fits Telegram (core/fitting.py), so "message is too long" never happens."""

from __future__ import annotations

import logging

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardMarkup, MaybeInaccessibleMessageUnion, Message

from core.fitting import cut_html

logger = logging.getLogger(__name__)


async def safe_edit_text(
    message: MaybeInaccessibleMessageUnion | None,
    text: str,
    reply_markup: InlineKeyboardMarkup | None = None,
) -> None:
    """Edit in place; if Telegram refuses (too old, unchanged, deleted), send it anew."""
    if not isinstance(message, Message):
        return
    text = cut_html(text)  # a screen fits itself; this only guards against one that does not
    try:
        await message.edit_text(text, reply_markup=reply_markup)
    except TelegramBadRequest as exc:
        if "message is not modified" in exc.message:
            return
        logger.info("edit refused (%s); sending a new message", exc.message)
        await message.answer(text, reply_markup=reply_markup)
