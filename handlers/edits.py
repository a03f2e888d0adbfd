"""Editing a message after the work is done must not turn success into an error reply. The text
fits Telegram already (the screen fitted it with core/fitting.py; bot/fitting.py cuts, with a
warning, one that did not), so a refusal here is never "message is too long"."""

from __future__ import annotations

import logging

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardMarkup, MaybeInaccessibleMessageUnion, Message

logger = logging.getLogger(__name__)


async def safe_edit_text(
    message: MaybeInaccessibleMessageUnion | None,
    text: str,
    reply_markup: InlineKeyboardMarkup | None = None,
) -> None:
    """Edit in place; if Telegram refuses (too old, unchanged, deleted), send it anew."""
    if not isinstance(message, Message):
        return
    try:
        await message.edit_text(text, reply_markup=reply_markup)
    except TelegramBadRequest as exc:
        if "message is not modified" in exc.message:
            return
        logger.info("edit refused (%s); sending a new message", exc.message)
        await message.answer(text, reply_markup=reply_markup)
