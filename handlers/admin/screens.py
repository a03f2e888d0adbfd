"""What several staff sections show, once: the back row to the main menu, and the menu message
edited in place, also after a typed step (texts.py holds the words they share)."""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import InlineKeyboardMarkup, MaybeInaccessibleMessageUnion, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.admin.callbacks import main_menu_data
from handlers.edits import safe_edit_text


def back_row(builder: InlineKeyboardBuilder, data: str | None = None) -> None:
    """« Back, to `data` or to the /workflow_recovery main menu."""
    builder.button(text="« " + _("Back"), callback_data=data or main_menu_data())


def menu_ref(message: MaybeInaccessibleMessageUnion | None) -> list[int] | None:
    """Where the menu message is (FSM key "menu"), for `edit_menu` after a typed step."""
    return [message.chat.id, message.message_id] if message else None


async def edit_menu(
    bot: Bot, state: FSMContext, edit: Message | None, text: str, markup: InlineKeyboardMarkup
) -> None:
    """Edit the menu message in place, also when the step was a typed message."""
    if edit is not None:
        await safe_edit_text(edit, text, reply_markup=markup)
        return
    menu = (await state.get_data()).get("menu")
    if menu:
        try:
            await bot.edit_message_text(
                text, chat_id=menu[0], message_id=menu[1], reply_markup=markup
            )
            return
        except TelegramBadRequest:
            pass
        await bot.send_message(menu[0], text, reply_markup=markup)
