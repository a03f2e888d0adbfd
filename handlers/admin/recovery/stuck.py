"""/workflow_recovery: the stuck workflows, their filter and one request's detail."""

from __future__ import annotations

import math
from functools import partial

from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.workflows import WorkflowRegistry
from database.models import User
from handlers.admin.callbacks import (
    BulkAction,
    StuckDetail,
    StuckFilterPick,
    StuckList,
)
from handlers.admin.recovery.screens import decode_filter, detail_screen, filter_title
from handlers.admin.recovery.texts import entry_line
from handlers.admin.screens import back_row
from handlers.edits import safe_edit_text
from handlers.keyboards import add_pager
from handlers.routes import RouteTable
from services.recovery.actions import RecoveryActions
from services.recovery.spec import bulk_actions
from services.requests import RequestService
from services.stuck import StuckService

routes = RouteTable(__name__)

PAGE_SIZE = 5


# -- stuck workflows ------------------------------------------------------------------------


@routes.callback_query(StuckList.filter())
async def stuck_list(
    query: CallbackQuery,
    callback_data: StuckList,
    stuck: StuckService,
    workflows: WorkflowRegistry,
    locale: str,
) -> None:
    selected = decode_filter(workflows, callback_data.wf, callback_data.st)
    page = max(0, callback_data.page)
    entries, total = await stuck.page(selected, page * PAGE_SIZE, PAGE_SIZE)
    if not entries and page:
        page = 0
        entries, total = await stuck.page(selected, 0, PAGE_SIZE)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    where = filter_title(workflows, callback_data.wf, callback_data.st, locale)
    head = _("Stuck workflows in {where}: {count} (page {page} of {pages}), oldest first.").format(
        where=where, count=total, page=page + 1, pages=pages
    )
    lines = [head, ""] + [entry_line(e, workflows, locale) for e in entries]
    if not entries:
        lines.append(_("Nothing is stuck here."))
    builder = InlineKeyboardBuilder()
    for entry in entries:
        builder.button(
            text=f"#{entry.request.id}", callback_data=StuckDetail(request_id=entry.request.id)
        )
    nav = add_pager(
        builder, page, pages, partial(StuckList, wf=callback_data.wf, st=callback_data.st)
    )
    builder.button(
        text=_("Filter"), callback_data=StuckFilterPick(wf=callback_data.wf, st=callback_data.st)
    )
    if entries:
        builder.button(
            text=_("Bulk action…"),
            callback_data=BulkAction(
                action=bulk_actions()[0], wf=callback_data.wf, st=callback_data.st
            ),
        )
    back_row(builder)
    builder.adjust(*([len(entries)] if entries else []), *([nav] if nav else []), 2, 1)
    await safe_edit_text(query.message, "\n".join(lines), reply_markup=builder.as_markup())


@routes.callback_query(StuckFilterPick.filter())
async def stuck_filter(
    query: CallbackQuery,
    callback_data: StuckFilterPick,
    workflows: WorkflowRegistry,
    locale: str,
) -> None:
    decode_filter(workflows, callback_data.wf, callback_data.st)
    builder = InlineKeyboardBuilder()
    builder.button(text=_("All workflows"), callback_data=StuckList(page=0, wf=-1, st=-1))
    for w_index, workflow in enumerate(workflows.workflows):
        builder.button(
            text=workflow.display(locale), callback_data=StuckList(page=0, wf=w_index, st=-1)
        )
        for s_index, stage in enumerate(workflow.stages):
            builder.button(
                text="› " + stage.display(locale),
                callback_data=StuckList(page=0, wf=w_index, st=s_index),
            )
    back_row(builder, StuckList(page=0, wf=callback_data.wf, st=callback_data.st).pack())
    builder.adjust(1)
    await safe_edit_text(
        query.message, _("Show stuck workflows of:"), reply_markup=builder.as_markup()
    )


@routes.callback_query(StuckDetail.filter())
async def stuck_detail(
    query: CallbackQuery,
    callback_data: StuckDetail,
    user: User,
    requests: RequestService,
    actions: RecoveryActions,
    workflows: WorkflowRegistry,
    locale: str,
    state: FSMContext,
) -> None:
    await state.set_state(None)
    text, markup = await detail_screen(
        callback_data.request_id, user, requests, actions, workflows, locale
    )
    await safe_edit_text(query.message, text, reply_markup=markup)
