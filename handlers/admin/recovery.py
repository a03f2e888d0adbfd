"""/workflow_recovery: the main menu, and what its sections share.

One message is edited in place as the admin navigates. Every callback is checked again on
arrival: the role, the ids, the filter indexes, the pending action's nonce; every "Yes" is a
stored confirmation (handlers/admin/confirmations.py)."""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.exceptions import ValidationFailed
from core.i18n import N_
from handlers.admin.callbacks import ErrorStatsView, RecoveryLogView, RecoveryMenu, StuckList
from handlers.admin.health import health_screen
from handlers.admin.inventory import home_button_data as inventory_home
from handlers.admin.notifications import home_button_data as notifications_home
from handlers.edits import safe_edit_text
from handlers.routes import RouteTable
from services.health.service import HealthService
from services.stuck import StuckService

routes = RouteTable(__name__)

SECTIONS = frozenset({"home", "health"})


def back_row(builder: InlineKeyboardBuilder, data: str | None = None) -> None:
    builder.button(text="« " + _("Back"), callback_data=data or RecoveryMenu(section="home"))


# -- main menu ------------------------------------------------------------------------------


async def main_menu(stuck: StuckService) -> tuple[str, InlineKeyboardMarkup]:
    count = await stuck.count()
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Stuck workflows ({count})").format(count=count),
        callback_data=StuckList(page=0, wf=-1, st=-1),
    )
    builder.button(text=_("System health"), callback_data=RecoveryMenu(section="health"))
    builder.button(text=_("Inventory reconciliation"), callback_data=inventory_home())
    builder.button(text=_("Error statistics"), callback_data=ErrorStatsView(period="d"))
    builder.button(text=_("Notification retries"), callback_data=notifications_home())
    builder.button(
        text=_("Recovery log"), callback_data=RecoveryLogView(page=0, actor=0, request=0)
    )
    builder.adjust(1)
    return _("Workflow recovery. What needs attention?"), builder.as_markup()


@routes.message(Command("workflow_recovery"))
async def open_menu(message: Message, stuck: StuckService, state: FSMContext) -> None:
    await state.clear()
    text, markup = await main_menu(stuck)
    await message.answer(text, reply_markup=markup)


@routes.callback_query(RecoveryMenu.filter())
async def menu_section(
    query: CallbackQuery,
    callback_data: RecoveryMenu,
    stuck: StuckService,
    health: HealthService,
    state: FSMContext,
) -> None:
    if callback_data.section not in SECTIONS:
        raise ValidationFailed(N_("That menu entry does not exist."))
    if callback_data.section == "home":
        await state.clear()
        text, markup = await main_menu(stuck)
        await safe_edit_text(query.message, text, reply_markup=markup)
        return
    text, markup = await health_screen(health)  # the only other section kept here
    await safe_edit_text(query.message, text, reply_markup=markup)


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
