"""Inventory reconciliation for admins and support: /reconcile, or the main menu's button.

Support may look and preview; only admins apply fixes or set a counted quantity. One message is
edited in place while the person navigates; every press re-checks the role and the ids, since a
button can be forged.
"""

from __future__ import annotations

from html import escape

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.enums import Role
from core.exceptions import PermissionDenied
from core.i18n import N_
from database.models import InventoryItem, User
from handlers.admin.callbacks import ReconcileAction as RA
from handlers.admin.callbacks import ReconcileCallback, RecoveryMenu
from handlers.admin.inventory_texts import (
    last_run_text,
    open_finding_line,
    plan_counts,
    report_text,
    run_line,
)
from handlers.admin.states import Counting
from handlers.edits import safe_edit_text
from handlers.routes import RouteTable
from services.reconciliation.service import ReconciliationService

routes = RouteTable(__name__)

MAIN_MENU = RecoveryMenu(section="home").pack()  # the /workflow_recovery main menu
REASONS = (N_("Physical count"), N_("Damaged or lost"), N_("Found during an audit"))
MAX_FINDINGS = 15
MAX_COUNT_BUTTONS = 8
MAX_COUNTED = 10_000_000


def home_button_data() -> str:
    """Callback data of a button that opens this section (for the main menu)."""
    return ReconcileCallback(action=RA.HOME).pack()


def _data(action: RA, id_: int = 0) -> str:
    return ReconcileCallback(action=action, id=id_).pack()


def require_admin(user: User) -> None:
    if Role.ADMIN not in user.role_set:
        raise PermissionDenied(N_("Only admins can change inventory. Support can only look."))


# The buttons whose handlers call require_admin: refusals.py tells non-staff the same.
ADMIN_ACTIONS = frozenset({RA.ASK_APPLY, RA.APPLY, RA.COUNT, RA.COUNT_SKU, RA.REASON})


def back_markup(with_apply: bool = False) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if with_apply:
        kb.button(text=_("Apply"), callback_data=_data(RA.ASK_APPLY))
    kb.button(text=_("« Back"), callback_data=_data(RA.HOME))
    kb.adjust(1)
    return kb.as_markup()


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
    kb.button(text=_("Preview"), callback_data=_data(RA.PREVIEW))
    if Role.ADMIN in user.role_set:
        kb.button(text=_("Apply"), callback_data=_data(RA.ASK_APPLY))
    kb.button(text=_("Open findings"), callback_data=_data(RA.FINDINGS))
    kb.button(text=_("History"), callback_data=_data(RA.HISTORY))
    kb.button(text=_("« Back"), callback_data=MAIN_MENU)
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
    can_apply = Role.ADMIN in user.role_set and bool(report.findings)
    await safe_edit_text(query.message, report_text(report), back_markup(with_apply=can_apply))


@routes.callback_query(ReconcileCallback.filter(F.action == RA.ASK_APPLY))
async def ask_apply(
    query: CallbackQuery, user: User, reconciliation: ReconciliationService
) -> None:
    require_admin(user)
    report = await reconciliation.run(actor_id=user.id)
    if not report.findings:
        await safe_edit_text(query.message, _("No discrepancies found."), back_markup())
        return
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Yes, apply"), callback_data=_data(RA.APPLY))
    kb.button(text=_("Cancel"), callback_data=_data(RA.HOME))
    await safe_edit_text(query.message, plan_counts(report), kb.as_markup())


@routes.callback_query(ReconcileCallback.filter(F.action == RA.APPLY))
async def apply(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    user: User,
    reconciliation: ReconciliationService,
) -> None:
    require_admin(user)
    report = await reconciliation.run(apply=True, actor_id=user.id, trigger="admin")
    callback_answer.text = _("Done.")
    await safe_edit_text(query.message, report_text(report), back_markup())


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
        if Role.ADMIN in user.role_set:
            items = dict.fromkeys((r.item_id, sku) for r, sku in rows if r.item_id is not None)
            for item_id, sku in list(items)[:MAX_COUNT_BUTTONS]:
                kb.button(
                    text=_("Set counted quantity: {sku}").format(sku=sku),
                    callback_data=_data(RA.COUNT, item_id),
                )
    if Role.ADMIN in user.role_set:
        # A disputed item need not have a finding: the admin names it by its SKU.
        kb.button(text=_("Count an item by SKU"), callback_data=_data(RA.COUNT_SKU))
    kb.button(text=_("« Back"), callback_data=_data(RA.HOME))
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


@routes.callback_query(ReconcileCallback.filter(F.action == RA.COUNT))
async def ask_count(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    callback_data: ReconcileCallback,
    user: User,
    reconciliation: ReconciliationService,
    state: FSMContext,
) -> None:
    require_admin(user)
    found = await reconciliation.item(callback_data.id)
    if found is None:
        callback_answer.text = _("That item no longer exists.")
        callback_answer.show_alert = True
        return
    await safe_edit_text(query.message, await start_count(state, *found), back_markup())


async def start_count(state: FSMContext, item: InventoryItem, balance: int) -> str:
    await state.set_state(Counting.entering_quantity)
    await state.update_data(item_id=item.id)
    return _(
        "{name} ({sku}): stock figure {stock}, ledger balance {balance}.\n"
        "Send the quantity you physically counted (a whole number, 0 or more), or /cancel."
    ).format(name=escape(item.name), sku=escape(item.sku), stock=item.stock, balance=balance)


@routes.callback_query(ReconcileCallback.filter(F.action == RA.COUNT_SKU))
async def ask_sku(query: CallbackQuery, user: User, state: FSMContext) -> None:
    require_admin(user)
    await state.set_state(Counting.entering_sku)
    await safe_edit_text(
        query.message, _("Send the SKU of the item you counted, or /cancel."), back_markup()
    )


@routes.message(Counting.entering_sku, F.text)
async def counted_sku(
    message: Message, user: User, state: FSMContext, reconciliation: ReconciliationService
) -> None:
    require_admin(user)
    sku = (message.text or "").strip()[:64]
    found = await reconciliation.item_by_sku(sku)
    if found is None:
        await message.answer(
            _("No item with SKU {sku}. Send another SKU, or /cancel.").format(sku=escape(sku))
        )
        return
    await message.answer(await start_count(state, *found))


@routes.message(Counting.entering_quantity, F.text)
async def counted_quantity(message: Message, user: User, state: FSMContext) -> None:
    require_admin(user)
    text = (message.text or "").strip()
    if not text.isdecimal() or int(text) > MAX_COUNTED:
        await message.answer(
            _("Please send a whole number, 0 or more (for example 12), or /cancel.")
        )
        return
    await state.update_data(counted=int(text))
    await state.set_state(Counting.entering_reason)
    kb = InlineKeyboardBuilder()
    for index, reason in enumerate(REASONS):
        kb.button(text=_(reason), callback_data=_data(RA.REASON, index))
    kb.adjust(1)
    await message.answer(
        _("Why does the count differ? Choose a reason or type your own."),
        reply_markup=kb.as_markup(),
    )


@routes.message(Counting.entering_reason, F.text)
async def typed_reason(
    message: Message, user: User, state: FSMContext, reconciliation: ReconciliationService
) -> None:
    await message.answer(await post_adjustment(user, state, reconciliation, message.text or ""))


@routes.callback_query(ReconcileCallback.filter(F.action == RA.REASON))
async def preset_reason(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    callback_data: ReconcileCallback,
    user: User,
    state: FSMContext,
    reconciliation: ReconciliationService,
) -> None:
    require_admin(user)
    if await state.get_state() != Counting.entering_reason.state:
        callback_answer.text = _("That question is no longer open.")
        callback_answer.show_alert = True
        return
    if not 0 <= callback_data.id < len(REASONS):
        callback_answer.text = _("Unknown reason. Choose one of the buttons.")
        callback_answer.show_alert = True
        return
    text = await post_adjustment(user, state, reconciliation, _(REASONS[callback_data.id]))
    callback_answer.text = _("Done.")
    await safe_edit_text(query.message, text, back_markup())


@routes.message(Counting.entering_sku)
@routes.message(Counting.entering_quantity)
@routes.message(Counting.entering_reason)
async def not_text(message: Message) -> None:
    await message.answer(_("Please send text, or /cancel."))


async def post_adjustment(
    user: User, state: FSMContext, reconciliation: ReconciliationService, reason: str
) -> str:
    require_admin(user)  # the role may have been taken away while they were typing
    data = await state.get_data()
    result = await reconciliation.set_counted(
        int(data["item_id"]), int(data["counted"]), reason, user.id
    )
    await state.clear()
    return _(
        "Adjustment posted for {sku}: counted {counted}, ledger balance was {balance}, "
        "adjustment {adjustment:+d}."
    ).format(
        sku=escape(result.sku),
        counted=result.counted,
        balance=result.ledger_balance,
        adjustment=result.adjustment,
    )
