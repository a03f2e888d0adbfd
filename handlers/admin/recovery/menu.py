"""/workflow_recovery: the main menu, the staff home every section's Back leads to.

One message is edited in place as the admin navigates. Every callback is checked again on
arrival: the role, the ids, the filter indexes, the pending action's nonce; every "Yes" is a
stored confirmation (handlers/admin/confirm.py)."""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.exceptions import ValidationFailed
from core.i18n import N_
from handlers.admin.callbacks import (
    ErrorStatsView,
    MenuSection,
    RecoveryLogView,
    RecoveryMenu,
    StuckList,
    notifications_home_data,
    reconcile_home_data,
)
from handlers.edits import safe_edit_text
from handlers.routes import RouteTable
from services.stuck import StuckService

routes = RouteTable(__name__)


async def main_menu(stuck: StuckService) -> tuple[str, InlineKeyboardMarkup]:
    count = await stuck.count()
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Stuck workflows ({count})").format(count=count),
        callback_data=StuckList(page=0, wf=-1, st=-1),
    )
    builder.button(text=_("System health"), callback_data=RecoveryMenu(section=MenuSection.HEALTH))
    builder.button(text=_("Inventory reconciliation"), callback_data=reconcile_home_data())
    builder.button(text=_("Error statistics"), callback_data=ErrorStatsView(period="d"))
    builder.button(text=_("Notification retries"), callback_data=notifications_home_data())
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


# "health" is the health section's (handlers/admin/health/screen.py).
@routes.callback_query(RecoveryMenu.filter(F.section != MenuSection.HEALTH))
async def menu_section(
    query: CallbackQuery, callback_data: RecoveryMenu, stuck: StuckService, state: FSMContext
) -> None:
    if callback_data.section != MenuSection.HOME:
        raise ValidationFailed(N_("That menu entry does not exist."))
    await state.clear()
    text, markup = await main_menu(stuck)
    await safe_edit_text(query.message, text, reply_markup=markup)
