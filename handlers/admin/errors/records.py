"""/workflow_recovery: error statistics, one error record, and marking it resolved."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiogram import Bot, F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.clock import Clock
from core.enums import ErrorCategory, ErrorSeverity
from core.exceptions import ValidationFailed
from core.i18n import N_
from core.names import category_name, severity_name
from database.models import User
from handlers.admin.access import RESOLVE_ERRORS, is_admin, require_admin
from handlers.admin.callbacks import ErrorDetailView, ErrorResolve, ErrorStatsView
from handlers.admin.confirm import Applier, Confirmed, Result, apply_typed, ask, outcome, yes
from handlers.admin.errors.texts import NOTE_PRESETS, describe
from handlers.admin.screens import back_row, edit_menu, menu_ref
from handlers.admin.states import Recovery
from handlers.admin.texts import STEP_CLOSED
from handlers.edits import safe_edit_text
from handlers.routes import RouteTable
from services.confirmation_scopes import ResolveErrorScope
from services.confirmations import ConfirmationService
from services.error_records import ErrorChanged, ErrorService

routes = RouteTable(__name__)
RESOLVED = N_("{reference} was marked resolved.")
RECURRED = N_("Not resolved: the error occurred again since it was shown. This is it now:")

PERIODS = {
    "h": (timedelta(hours=1), N_("last hour")),
    "d": (timedelta(days=1), N_("last day")),
    "w": (timedelta(days=7), N_("last week")),
}


@routes.callback_query(ErrorStatsView.filter())
async def error_stats(
    query: CallbackQuery,
    callback_data: ErrorStatsView,
    errors: ErrorService,
    clock: Clock,
) -> None:
    if callback_data.period not in PERIODS:
        raise ValidationFailed(N_("That period does not exist."))
    span, label = PERIODS[callback_data.period]
    stats = await errors.stats(clock.now() - span)
    lines = [_("Errors in the {period}: {total}").format(period=_(label), total=stats.total)]
    if stats.total:
        lines.append(
            _("By category:")
            + " "
            + ", ".join(
                f"{category_name(c)} {n}"
                for c, n in sorted(stats.by_category.items())
                if c in ErrorCategory
            )
        )
        lines.append(
            _("By severity:")
            + " "
            + ", ".join(
                f"{severity_name(s)} {stats.by_severity[s]}"
                for s in ErrorSeverity
                if s in stats.by_severity
            )
        )
        lines += ["", _("Most frequent:")]
    builder = InlineKeyboardBuilder()
    for record, count in stats.top:
        lines.append(
            _("{reference} · {count}× · last {last} · {where}").format(
                reference=record.reference,
                count=count,
                last=record.last_seen.strftime("%m-%d %H:%M"),
                where=record.handler or "?",
            )
        )
        builder.button(text=record.reference, callback_data=ErrorDetailView(record_id=record.id))
    for key, (_span, name) in PERIODS.items():
        if key != callback_data.period:
            builder.button(text=_(name), callback_data=ErrorStatsView(period=key))
    back_row(builder)
    builder.adjust(*([len(stats.top)] if stats.top else []), 2, 1)
    await safe_edit_text(query.message, "\n".join(lines), reply_markup=builder.as_markup())


def error_screen(record_id: int, text: str, resolvable: bool) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    if resolvable:
        builder.button(text=_("Mark resolved"), callback_data=ErrorResolve(record_id=record_id))
    back_row(builder, ErrorStatsView(period="d").pack())
    builder.adjust(1)
    return builder.as_markup()


@routes.callback_query(ErrorDetailView.filter())
async def error_detail(
    query: CallbackQuery,
    callback_data: ErrorDetailView,
    user: User,
    errors: ErrorService,
    state: FSMContext,
) -> None:
    if await state.get_state() == Recovery.note.state:
        await state.set_state(None)  # "Cancel" on the note question
    record = await errors.get(callback_data.record_id)
    if record is None:
        raise ValidationFailed(N_("That error record does not exist any more."))
    resolvable = record.resolved_at is None and is_admin(user.role_set)
    await safe_edit_text(
        query.message, describe(record), reply_markup=error_screen(record.id, "", resolvable)
    )


@routes.callback_query(ErrorResolve.filter())
async def error_resolve(
    query: CallbackQuery,
    callback_data: ErrorResolve,
    user: User,
    errors: ErrorService,
    confirmations: ConfirmationService,
    state: FSMContext,
) -> None:
    require_admin(user, RESOLVE_ERRORS)
    record = await errors.get(callback_data.record_id)
    if record is None or record.resolved_at is not None:
        raise ValidationFailed(N_("That error record does not exist any more."))
    text = _("How was {reference} resolved? Choose a note or type your own.").format(
        reference=record.reference
    )
    # The record as shown: resolving it later refuses if it has recurred meanwhile.
    scope = ResolveErrorScope(record.id, record.reference, record.count)
    token = await ask(confirmations, user, scope, text)
    await state.set_state(Recovery.note)
    await state.update_data(resolving={"token": token}, menu=menu_ref(query.message))
    builder = InlineKeyboardBuilder()
    for index, preset in enumerate(NOTE_PRESETS):
        builder.button(text=_(preset), callback_data=yes(token, index))
    builder.button(text=_("Cancel"), callback_data=ErrorDetailView(record_id=record.id))
    builder.adjust(1)
    await safe_edit_text(query.message, text, reply_markup=builder.as_markup())


async def resolve(done: Confirmed[ResolveErrorScope]) -> Result:
    require_admin(done.user, RESOLVE_ERRORS)
    errors = done.service("errors", ErrorService)
    note = done.typed if done.typed is not None else _(done.choice(NOTE_PRESETS))
    scope = done.scope
    await done.state.set_state(None)
    await done.state.update_data(resolving=None)
    try:
        record = await errors.resolve(
            scope.reference, done.user.id, note, expect_count=scope.count
        )
    except ErrorChanged as changed:
        fresh = await errors.get(changed.record_id)
        if fresh is None:
            raise ValidationFailed(N_("That error record does not exist any more.")) from None
        text = "⚠️ " + _(RECURRED) + "\n\n" + describe(fresh)
        markup = error_screen(fresh.id, text, fresh.resolved_at is None)
        return Result(text, markup, outcome(RECURRED, "changed"))
    text = "✅ " + _("Resolved.") + "\n\n" + describe(record)
    stored = outcome(RESOLVED, reference=record.reference)
    return Result(text, error_screen(record.id, text, False), stored)


RESOLVE = Applier(ResolveErrorScope, resolve)
APPLIERS = (RESOLVE,)


@routes.message(Recovery.note, F.text)
async def resolve_typed(
    message: Message, user: User, bot: Bot, state: FSMContext, **data: Any
) -> None:
    resolving = (await state.get_data()).get("resolving")
    if not isinstance(resolving, dict) or "token" not in resolving:
        await state.set_state(None)
        raise ValidationFailed(STEP_CLOSED)
    result = await apply_typed(RESOLVE, message, user, state, str(resolving["token"]), data)
    if result is not None:
        assert result.markup is not None
        await edit_menu(bot, state, None, result.text, result.markup)
