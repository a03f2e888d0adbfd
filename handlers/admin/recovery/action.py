"""/workflow_recovery: one recovery action — choose it, give a reason, confirm."""

from __future__ import annotations

import secrets

from aiogram import Bot, F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.enums import RecoveryAction, RecoveryOutcome
from core.exceptions import ValidationFailed
from core.i18n import N_
from core.workflows import WorkflowRegistry
from database.models import User
from handlers.admin.callbacks import (
    ConfirmPending,
    ReasonPreset,
    ReassignTo,
    StuckAction,
    StuckDetail,
)
from handlers.admin.confirm import Applier, Confirmed, Result, ask, outcome, yes
from handlers.admin.recovery.pending import PendingAction, PendingBulk, PendingOne, pending_of
from handlers.admin.recovery.screens import detail_screen
from handlers.admin.recovery.texts import REASON_PRESETS, bulk_confirmation, plan_text
from handlers.admin.screens import back_row, edit_menu, menu_ref
from handlers.admin.states import Recovery
from handlers.admin.texts import STEP_CLOSED, action_name
from handlers.edits import safe_edit_text
from handlers.routes import RouteTable
from services.confirmation_scopes import RecoveryActionScope, RecoveryBulkScope
from services.confirmations import ConfirmationService, Scope
from services.recovery.actions import RecoveryActions
from services.recovery.spec import spec
from services.requests import RequestService

routes = RouteTable(__name__)
APPLIED = N_("Request #{request_id}: the recovery action was applied.")
STALE = N_("Request #{request_id} had changed meanwhile: nothing was applied.")

# -- one action: choose, give a reason, confirm ----------------------------------------------


async def ask_reason(
    query: CallbackQuery,
    state: FSMContext,
    action: RecoveryAction,
    request_id: int,
    version: int,
    target: int | None,
    title: str,
) -> None:
    nonce = secrets.randbelow(10**9)
    pending = PendingOne(action, request_id, version, target, nonce)
    await state.set_state(Recovery.reason)
    await state.update_data(pending=pending.to_data(), menu=menu_ref(query.message))
    builder = InlineKeyboardBuilder()
    for index, preset in enumerate(REASON_PRESETS):
        builder.button(text=_(preset), callback_data=ReasonPreset(nonce=nonce, preset=index))
    builder.button(text=_("Cancel"), callback_data=ConfirmPending(nonce=nonce, go=False))
    builder.adjust(1)
    text = title + "\n\n" + _("Why? Choose a reason or type your own.")
    await safe_edit_text(query.message, text, reply_markup=builder.as_markup())


@routes.callback_query(StuckAction.filter())
async def action_chosen(
    query: CallbackQuery,
    callback_data: StuckAction,
    user: User,
    actions: RecoveryActions,
    state: FSMContext,
) -> None:
    action = callback_data.action
    # Validates the role, the request, its version and that the action applies — now.
    await actions.plan(callback_data.request_id, action, user, callback_data.version)
    if spec(action).needs_target:
        candidates = await actions.candidates(callback_data.request_id)
        builder = InlineKeyboardBuilder()
        for candidate in candidates:
            builder.button(
                text=candidate.display_name,
                callback_data=ReassignTo(
                    request_id=callback_data.request_id,
                    version=callback_data.version,
                    user_id=candidate.id,
                ),
            )
        back_row(builder, StuckDetail(request_id=callback_data.request_id).pack())
        builder.adjust(1)
        text = (
            _("Reassign request #{request_id} to:").format(request_id=callback_data.request_id)
            if candidates
            else _(
                "Nobody else holds this stage's role. Grant it first: "
                "python -m bot users grant <id> <role>"
            )
        )
        await safe_edit_text(query.message, text, reply_markup=builder.as_markup())
        return
    await ask_reason(
        query,
        state,
        action,
        callback_data.request_id,
        callback_data.version,
        None,
        action_name(action) + f" · #{callback_data.request_id}",
    )


@routes.callback_query(ReassignTo.filter())
async def reassign_target(
    query: CallbackQuery,
    callback_data: ReassignTo,
    user: User,
    actions: RecoveryActions,
    state: FSMContext,
) -> None:
    # The buttons carry no action (people may still hold them): reassign is the one that
    # picks a person; a second such action would need its own callback.
    plan = await actions.plan(
        callback_data.request_id,
        RecoveryAction.REASSIGN,
        user,
        callback_data.version,
        target_user_id=callback_data.user_id,
    )
    await ask_reason(
        query,
        state,
        RecoveryAction.REASSIGN,
        plan.request_id,
        plan.version,
        callback_data.user_id,
        action_name(RecoveryAction.REASSIGN) + f" · #{plan.request_id}",
    )


async def show_confirmation(
    bot: Bot,
    state: FSMContext,
    user: User,
    actions: RecoveryActions,
    confirmations: ConfirmationService,
    workflows: WorkflowRegistry,
    locale: str,
    reason: str,
    edit: Message | None,
) -> None:
    pending = await pending_of(state)
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(N_("Please give a reason."))
    pending = pending.with_reason(reason)
    await state.update_data(pending=pending.to_data())
    await state.set_state(None)
    builder = InlineKeyboardBuilder()
    scope: Scope
    if isinstance(pending, PendingBulk):
        scope = RecoveryBulkScope(pending.action, pending.bulk, reason)
        text = bulk_confirmation(scope, locale)
    else:
        plan = await actions.plan(
            pending.request_id, pending.action, user, pending.version, pending.target
        )
        text = plan_text(plan, workflows, locale, reason)
        # Exactly the request and the version the plan was made for.
        scope = RecoveryActionScope(
            plan.action, plan.request_id, plan.version, pending.target, reason
        )
    token = await ask(confirmations, user, scope, text)
    builder.button(text=_("Confirm"), callback_data=yes(token))
    builder.button(text=_("Cancel"), callback_data=ConfirmPending(nonce=pending.nonce, go=False))
    await edit_menu(bot, state, edit, text, builder.as_markup())


@routes.callback_query(ReasonPreset.filter())
async def reason_preset(
    query: CallbackQuery,
    callback_data: ReasonPreset,
    user: User,
    bot: Bot,
    actions: RecoveryActions,
    confirmations: ConfirmationService,
    workflows: WorkflowRegistry,
    locale: str,
    state: FSMContext,
) -> None:
    await pending_of(state, callback_data.nonce)
    if not 0 <= callback_data.preset < len(REASON_PRESETS):
        raise ValidationFailed(N_("That reason does not exist."))
    message = query.message if isinstance(query.message, Message) else None
    await show_confirmation(
        bot,
        state,
        user,
        actions,
        confirmations,
        workflows,
        locale,
        _(REASON_PRESETS[callback_data.preset]),
        message,
    )


@routes.message(Recovery.reason, F.text)
async def reason_typed(
    message: Message,
    user: User,
    bot: Bot,
    actions: RecoveryActions,
    confirmations: ConfirmationService,
    workflows: WorkflowRegistry,
    locale: str,
    state: FSMContext,
) -> None:
    await show_confirmation(
        bot, state, user, actions, confirmations, workflows, locale, message.text or "", None
    )


@routes.callback_query(ConfirmPending.filter())
async def cancel(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    callback_data: ConfirmPending,
    user: User,
    requests: RequestService,
    actions: RecoveryActions,
    workflows: WorkflowRegistry,
    locale: str,
    state: FSMContext,
) -> None:
    pending = await pending_of(state, callback_data.nonce)
    if callback_data.go:
        # "Yes" is a stored confirmation's button (handlers/admin/confirmations.py) now.
        raise ValidationFailed(STEP_CLOSED)
    await state.update_data(pending=None)
    await state.set_state(None)
    callback_answer.text = _("Cancelled. Nothing was changed.")
    text, markup = await main_menu_or_detail(pending, user, requests, actions, workflows, locale)
    await safe_edit_text(query.message, text, reply_markup=markup)


async def apply_action(done: Confirmed[RecoveryActionScope]) -> Result:
    """Exactly the request, version, action, target and reason the confirmation showed."""
    scope = done.scope
    actions = done.service("actions", RecoveryActions)
    request_id = scope.request_id
    await done.state.update_data(pending=None)
    result = await actions.apply(
        request_id, scope.action, done.user.id, scope.version, scope.reason, scope.target
    )
    if result.outcome is RecoveryOutcome.APPLIED:
        note = "✅ " + _("Done.")
        stored = outcome(APPLIED, request_id=request_id)
    else:
        note = "⚠️ " + _("Not applied: the request changed meanwhile. This is how it is now:")
        stored = outcome(STALE, "changed", request_id=request_id)
    text, markup = await detail_screen(
        request_id,
        done.user,
        done.service("requests", RequestService),
        actions,
        done.service("workflows", WorkflowRegistry),
        done.service("locale", str),
        note=note,
    )
    return Result(text, markup, stored)


APPLIERS = (Applier(RecoveryActionScope, apply_action),)


async def main_menu_or_detail(
    pending: PendingAction,
    user: User,
    requests: RequestService,
    actions: RecoveryActions,
    workflows: WorkflowRegistry,
    locale: str,
) -> tuple[str, InlineKeyboardMarkup]:
    if isinstance(pending, PendingOne):
        return await detail_screen(pending.request_id, user, requests, actions, workflows, locale)
    builder = InlineKeyboardBuilder()
    back_row(builder)
    return _("Cancelled. Nothing was changed."), builder.as_markup()
