"""Inventory reconciliation for admins and support: /reconcile, or the main menu's button.

Support may look and preview; only admins apply fixes or set a counted quantity. One message is
edited in place while the person navigates; every press re-checks the role and the ids, since a
button can be forged.
"""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.i18n import N_
from database.models import User
from handlers.admin.access import CHANGE_INVENTORY, is_admin, require_admin
from handlers.admin.callbacks import ReconcileAction as RA
from handlers.admin.callbacks import ReconcileCallback, main_menu_data
from handlers.admin.confirm import Applier, Confirmed, Result, ask, outcome, yes
from handlers.admin.inventory.screens import back_markup, button_data
from handlers.admin.inventory.texts import (
    changed_text,
    last_run_text,
    open_finding_line,
    plan_counts,
    report_text,
    run_line,
)
from handlers.edits import safe_edit_text
from handlers.routes import RouteTable
from services.confirmation_scopes import ReconcileApplyScope
from services.confirmations import ConfirmationService
from services.reconciliation.service import ReconciliationService

routes = RouteTable(__name__)

MAX_FINDINGS = 15
MAX_COUNT_BUTTONS = 8
RUN_APPLIED = N_("Reconciliation run #{run_id} applied: {fixed} fixed.")
RUN_CHANGED = N_(
    "Reconciliation run #{run_id} applied what the preview showed: {fixed} fixed; "
    "{vanished} gone and skipped, {unseen} not shown left alone."
)


async def home(user: User, service: ReconciliationService) -> tuple[str, InlineKeyboardMarkup]:
    last = await service.last_run()
    open_count = await service.open_count()
    text = "\n\n".join(
        [
            "<b>" + _("Inventory reconciliation") + "</b>",
            last_run_text(last),
            _("Open findings that need a person: {count}.").format(count=open_count),
        ]
    )
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Preview"), callback_data=button_data(RA.PREVIEW))
    if is_admin(user.role_set):
        kb.button(text=_("Apply"), callback_data=button_data(RA.ASK_APPLY))
    kb.button(text=_("Open findings"), callback_data=button_data(RA.FINDINGS))
    kb.button(text=_("History"), callback_data=button_data(RA.HISTORY))
    kb.button(text=_("« Back"), callback_data=main_menu_data())
    kb.adjust(2)
    return text, kb.as_markup()


@routes.message(Command("reconcile"))
async def reconcile_command(
    message: Message, user: User, reconciliation: ReconciliationService, state: FSMContext
) -> None:
    await state.clear()
    text, markup = await home(user, reconciliation)
    await message.answer(text, reply_markup=markup)


@routes.callback_query(ReconcileCallback.filter(F.action == RA.HOME))
async def show_home(
    query: CallbackQuery, user: User, reconciliation: ReconciliationService, state: FSMContext
) -> None:
    await state.clear()
    text, markup = await home(user, reconciliation)
    await safe_edit_text(query.message, text, markup)


@routes.callback_query(ReconcileCallback.filter(F.action == RA.PREVIEW))
async def preview(query: CallbackQuery, user: User, reconciliation: ReconciliationService) -> None:
    report = await reconciliation.run(actor_id=user.id)
    can_apply = is_admin(user.role_set) and bool(report.findings)
    await safe_edit_text(query.message, report_text(report), back_markup(with_apply=can_apply))


@routes.callback_query(ReconcileCallback.filter(F.action == RA.ASK_APPLY))
async def ask_apply(
    query: CallbackQuery,
    user: User,
    reconciliation: ReconciliationService,
    confirmations: ConfirmationService,
) -> None:
    require_admin(user, CHANGE_INVENTORY)
    report = await reconciliation.run(actor_id=user.id)
    if not report.findings:
        await safe_edit_text(query.message, _("No discrepancies found."), back_markup())
        return
    text = plan_counts(report)
    # Exactly the findings counted here, each with the figures it had.
    scope = ReconcileApplyScope(tuple(f.signature for f in report.findings))
    token = await ask(confirmations, user, scope, text)
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Yes, apply"), callback_data=yes(token))
    kb.button(text=_("Cancel"), callback_data=button_data(RA.HOME))
    await safe_edit_text(query.message, text, kb.as_markup())


async def apply(done: Confirmed[ReconcileApplyScope]) -> Result:
    require_admin(done.user, CHANGE_INVENTORY)
    reconciliation = done.service("reconciliation", ReconciliationService)
    report = await reconciliation.run(
        apply=True, actor_id=done.user.id, trigger="admin", only=done.scope.findings
    )
    text = report_text(report)
    if report.changed:
        kb = InlineKeyboardBuilder()
        kb.button(text=_("Preview"), callback_data=button_data(RA.PREVIEW))
        kb.button(text=_("« Back"), callback_data=button_data(RA.HOME))
        kb.adjust(1)
        stored = outcome(
            RUN_CHANGED, "changed", run_id=report.run_id, fixed=report.fixes,
            vanished=report.vanished, unseen=report.unseen,
        )  # fmt: skip
        return Result(changed_text(report) + "\n\n" + text, kb.as_markup(), stored, _("Done."))
    stored = outcome(RUN_APPLIED, run_id=report.run_id, fixed=report.fixes)
    return Result(text, back_markup(), stored, answer=_("Done."))


APPLIERS = (Applier(ReconcileApplyScope, apply),)


@routes.callback_query(ReconcileCallback.filter(F.action == RA.FINDINGS))
async def findings(
    query: CallbackQuery, user: User, reconciliation: ReconciliationService
) -> None:
    rows = await reconciliation.open_findings(limit=MAX_FINDINGS)
    kb = InlineKeyboardBuilder()
    if not rows:
        text = _("No open findings: nothing needs a person.")
    else:
        text = "\n".join(
            [_("Open findings that need a person:"), *(open_finding_line(r, s) for r, s in rows)]
        )
        if is_admin(user.role_set):
            items = dict.fromkeys((r.item_id, sku) for r, sku in rows if r.item_id is not None)
            for item_id, sku in list(items)[:MAX_COUNT_BUTTONS]:
                kb.button(
                    text=_("Set counted quantity: {sku}").format(sku=sku),
                    callback_data=button_data(RA.COUNT, item_id),
                )
    if is_admin(user.role_set):
        # A disputed item need not have a finding: the admin names it by its SKU.
        kb.button(text=_("Count an item by SKU"), callback_data=button_data(RA.COUNT_SKU))
    kb.button(text=_("« Back"), callback_data=button_data(RA.HOME))
    kb.adjust(1)
    await safe_edit_text(query.message, text, kb.as_markup())


@routes.callback_query(ReconcileCallback.filter(F.action == RA.HISTORY))
async def history(query: CallbackQuery, reconciliation: ReconciliationService) -> None:
    runs = await reconciliation.history()
    if runs:
        text = "\n".join([_("Recent runs:"), *(run_line(r) for r in runs)])
    else:
        text = _("No reconciliation has been applied yet.")
    await safe_edit_text(query.message, text, back_markup())
