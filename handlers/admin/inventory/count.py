"""Inventory reconciliation, the manual override: an admin counts an item (picked from the
findings or named by its SKU), gives the quantity and a reason, and confirms the adjustment.
The confirmation holds the item's figure and ledger balance as shown; if either moved by the
time "Yes" is pressed, nothing is posted and the admin counts again."""

from __future__ import annotations

from html import escape

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.exceptions import ValidationFailed
from core.i18n import N_
from database.models import InventoryItem, User
from handlers.admin.access import CHANGE_INVENTORY, require_admin
from handlers.admin.callbacks import ReconcileAction as RA
from handlers.admin.callbacks import ReconcileCallback
from handlers.admin.confirm import Applier, Confirmed, Result, ask, outcome, yes
from handlers.admin.inventory.screens import back_markup, button_data
from handlers.admin.states import Counting
from handlers.admin.texts import SEND_TEXT
from handlers.edits import safe_edit_text
from handlers.routes import RouteTable
from services.confirmation_scopes import SetCountedScope
from services.confirmations import ConfirmationService
from services.reconciliation.service import MAX_REASON, CountChanged, ReconciliationService
from utils.digits import whole_number

routes = RouteTable(__name__)

REASONS = (N_("Physical count"), N_("Damaged or lost"), N_("Found during an audit"))
MAX_COUNTED = 10_000_000
POSTED = N_("Adjustment {adjustment:+d} posted for {sku}.")
COUNT_CHANGED = N_(
    "Not posted: the item changed since the confirmation (stock figure now {stock}, ledger "
    "balance {balance}). Count it again."
)


@routes.callback_query(ReconcileCallback.filter(F.action == RA.COUNT))
async def ask_count(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    callback_data: ReconcileCallback,
    user: User,
    reconciliation: ReconciliationService,
    state: FSMContext,
) -> None:
    require_admin(user, CHANGE_INVENTORY)
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
    require_admin(user, CHANGE_INVENTORY)
    await state.set_state(Counting.entering_sku)
    await safe_edit_text(
        query.message, _("Send the SKU of the item you counted, or /cancel."), back_markup()
    )


@routes.message(Counting.entering_sku, F.text)
async def counted_sku(
    message: Message, user: User, state: FSMContext, reconciliation: ReconciliationService
) -> None:
    require_admin(user, CHANGE_INVENTORY)
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
    require_admin(user, CHANGE_INVENTORY)
    counted = whole_number((message.text or "").strip(), MAX_COUNTED)
    if counted is None:
        await message.answer(
            _("Please send a whole number, 0 or more (for example 12), or /cancel.")
        )
        return
    await state.update_data(counted=counted)
    await state.set_state(Counting.entering_reason)
    kb = InlineKeyboardBuilder()
    for index, reason in enumerate(REASONS):
        kb.button(text=_(reason), callback_data=button_data(RA.REASON, index))
    kb.adjust(1)
    await message.answer(
        _("Why does the count differ? Choose a reason or type your own."),
        reply_markup=kb.as_markup(),
    )


@routes.message(Counting.entering_reason, F.text)
async def typed_reason(
    message: Message,
    user: User,
    state: FSMContext,
    reconciliation: ReconciliationService,
    confirmations: ConfirmationService,
) -> None:
    text, markup = await ask_counted(
        user, state, reconciliation, confirmations, message.text or ""
    )
    await message.answer(text, reply_markup=markup)


@routes.callback_query(ReconcileCallback.filter(F.action == RA.REASON))
async def preset_reason(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    callback_data: ReconcileCallback,
    user: User,
    state: FSMContext,
    reconciliation: ReconciliationService,
    confirmations: ConfirmationService,
) -> None:
    require_admin(user, CHANGE_INVENTORY)
    if await state.get_state() != Counting.entering_reason.state:
        callback_answer.text = _("That question is no longer open.")
        callback_answer.show_alert = True
        return
    if not 0 <= callback_data.id < len(REASONS):
        callback_answer.text = _("Unknown reason. Choose one of the buttons.")
        callback_answer.show_alert = True
        return
    reason = _(REASONS[callback_data.id])
    text, markup = await ask_counted(user, state, reconciliation, confirmations, reason)
    await safe_edit_text(query.message, text, markup)


@routes.message(Counting.entering_sku)
@routes.message(Counting.entering_quantity)
@routes.message(Counting.entering_reason)
async def not_text(message: Message) -> None:
    await message.answer(_(SEND_TEXT))


async def ask_counted(
    user: User,
    state: FSMContext,
    reconciliation: ReconciliationService,
    confirmations: ConfirmationService,
    reason: str,
) -> tuple[str, InlineKeyboardMarkup]:
    """The confirmation of a counted quantity: the item as it is now, and the adjustment."""
    # The role may have been taken away while they were typing.
    require_admin(user, CHANGE_INVENTORY)
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise ValidationFailed(
            N_("Please give a reason of 1 to {limit} characters."), limit=MAX_REASON
        )
    data = await state.get_data()
    found = await reconciliation.item(int(data["item_id"]))
    await state.clear()
    if found is None:
        raise ValidationFailed(N_("That item no longer exists."))
    item, balance = found
    counted = int(data["counted"])
    text = _(
        "Set the counted quantity of {name} ({sku}) to {counted}? Its stock figure is "
        "{stock} and its ledger balance {balance}: an adjustment of {adjustment:+d} will be "
        "posted.\nReason: {reason}"
    ).format(
        name=escape(item.name),
        sku=escape(item.sku),
        counted=counted,
        stock=item.stock,
        balance=balance,
        adjustment=counted - balance,
        reason=escape(reason),
    )
    scope = SetCountedScope(item.id, counted, reason, item.stock, balance)
    token = await ask(confirmations, user, scope, text)
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Yes, post it"), callback_data=yes(token))
    kb.button(text=_("Cancel"), callback_data=button_data(RA.HOME))
    kb.adjust(1)
    return text, kb.as_markup()


async def post_adjustment(done: Confirmed[SetCountedScope]) -> Result:
    """Exactly the count shown, only while the item's figure and ledger are as shown."""
    require_admin(done.user, CHANGE_INVENTORY)
    reconciliation = done.service("reconciliation", ReconciliationService)
    scope = done.scope
    item_id = scope.item_id
    try:
        result = await reconciliation.set_counted(
            item_id,
            scope.counted,
            scope.reason,
            done.user.id,
            expect=(scope.stock, scope.balance),
        )
    except CountChanged as changed:
        kb = InlineKeyboardBuilder()
        kb.button(text=_("Count again"), callback_data=button_data(RA.COUNT, item_id))
        kb.button(text=_("« Back"), callback_data=button_data(RA.HOME))
        kb.adjust(1)
        text = "⚠️ " + _(COUNT_CHANGED).format(stock=changed.stock, balance=changed.balance)
        stored = outcome(COUNT_CHANGED, "changed", stock=changed.stock, balance=changed.balance)
        return Result(text, kb.as_markup(), stored)
    text = _(
        "Adjustment posted for {sku}: counted {counted}, ledger balance was {balance}, "
        "adjustment {adjustment:+d}."
    ).format(
        sku=escape(result.sku),
        counted=result.counted,
        balance=result.ledger_balance,
        adjustment=result.adjustment,
    )
    stored = outcome(POSTED, sku=result.sku, adjustment=result.adjustment)
    return Result(text, back_markup(), stored, answer=_("Done."))


APPLIERS = (Applier(SetCountedScope, post_adjustment),)
