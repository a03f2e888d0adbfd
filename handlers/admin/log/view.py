"""/workflow_recovery: the recovery log, by person or by request."""

from __future__ import annotations

import math
from functools import partial

from aiogram import Bot, F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.exceptions import ValidationFailed
from core.i18n import N_
from handlers.admin.callbacks import RecoveryLogFilter, RecoveryLogView
from handlers.admin.log.texts import log_line
from handlers.admin.screens import back_row, edit_menu, menu_ref
from handlers.admin.states import Recovery
from handlers.edits import safe_edit_text
from handlers.keyboards import add_pager
from handlers.routes import RouteTable
from services.recovery.log import RecoveryLogReader
from utils.digits import INT_MAX, whole_number

routes = RouteTable(__name__)

LOG_PAGE = 5
LOG_FILTERS = frozenset({"actor", "request", "clear"})


async def log_screen(
    log: RecoveryLogReader, page: int, actor: int, request: int
) -> tuple[str, InlineKeyboardMarkup]:
    rows, total = await log.page(
        page * LOG_PAGE, LOG_PAGE, actor_id=actor or None, request_id=request or None
    )
    pages = max(1, math.ceil(total / LOG_PAGE))
    head = _("Recovery log: {total} entries (page {page} of {pages}), newest first.").format(
        total=total, page=page + 1, pages=pages
    )
    filters = []
    if actor:
        filters.append(_("by one person"))
    if request:
        filters.append(_("request #{request_id}").format(request_id=request))
    if filters:
        head += "\n" + _("Filter: {filters}").format(filters=", ".join(filters))
    lines = [head, ""] + [log_line(r) for r in rows]
    if not rows:
        lines.append(_("Nothing recorded yet."))
    builder = InlineKeyboardBuilder()
    nav = add_pager(builder, page, pages, partial(RecoveryLogView, actor=actor, request=request))
    builder.button(text=_("By admin"), callback_data=RecoveryLogFilter(kind="actor"))
    builder.button(text=_("By request"), callback_data=RecoveryLogFilter(kind="request"))
    if filters:
        builder.button(text=_("Clear filter"), callback_data=RecoveryLogFilter(kind="clear"))
    back_row(builder)
    builder.adjust(*([nav] if nav else []), 2, 1, 1)
    return "\n".join(lines), builder.as_markup()


@routes.callback_query(RecoveryLogView.filter())
async def recovery_log(
    query: CallbackQuery,
    callback_data: RecoveryLogView,
    recovery_log: RecoveryLogReader,
) -> None:
    if callback_data.page < 0 or callback_data.actor < 0 or callback_data.request < 0:
        raise ValidationFailed(N_("That filter no longer exists."))
    text, markup = await log_screen(
        recovery_log, callback_data.page, callback_data.actor, callback_data.request
    )
    await safe_edit_text(query.message, text, reply_markup=markup)


@routes.callback_query(RecoveryLogFilter.filter())
async def recovery_log_filter(
    query: CallbackQuery,
    callback_data: RecoveryLogFilter,
    recovery_log: RecoveryLogReader,
    state: FSMContext,
) -> None:
    if callback_data.kind not in LOG_FILTERS:
        raise ValidationFailed(N_("That filter no longer exists."))
    if callback_data.kind == "clear":
        text, markup = await log_screen(recovery_log, 0, 0, 0)
        await safe_edit_text(query.message, text, reply_markup=markup)
        return
    builder = InlineKeyboardBuilder()
    if callback_data.kind == "actor":
        for person in await recovery_log.actors():
            builder.button(
                text=person.display_name,
                callback_data=RecoveryLogView(page=0, actor=person.id, request=0),
            )
        back_row(builder, RecoveryLogView(page=0, actor=0, request=0).pack())
        builder.adjust(1)
        await safe_edit_text(query.message, _("Whose actions?"), reply_markup=builder.as_markup())
        return
    await state.set_state(Recovery.log_request)
    await state.update_data(menu=menu_ref(query.message))
    back_row(builder, RecoveryLogView(page=0, actor=0, request=0).pack())
    await safe_edit_text(
        query.message,
        _("Send the request number, for example 42."),
        reply_markup=builder.as_markup(),
    )


@routes.message(Recovery.log_request, F.text)
async def recovery_log_request(
    message: Message, bot: Bot, recovery_log: RecoveryLogReader, state: FSMContext
) -> None:
    # Bounded like a button's id: a 20-digit number must not reach the query (OverflowError).
    number = whole_number((message.text or "").strip().lstrip("#"), INT_MAX)
    if not number:
        raise ValidationFailed(N_("Please send the request number as digits, for example 42."))
    await state.set_state(None)
    text, markup = await log_screen(recovery_log, 0, 0, number)
    await edit_menu(bot, state, None, text, markup)
