"""/workflow_recovery: error statistics, one error record, and marking it resolved."""

from __future__ import annotations

import secrets
from datetime import timedelta

from aiogram import Bot, F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.clock import Clock
from core.enums import ErrorCategory, ErrorSeverity, Role
from core.exceptions import PermissionDenied, ValidationFailed
from core.i18n import N_
from core.names import category_name, severity_name
from database.models import User
from handlers.admin.callbacks import (
    ConfirmPending,
    ErrorDetailView,
    ErrorResolve,
    ErrorStatsView,
    ResolveNote,
)
from handlers.admin.error_lookup import describe
from handlers.admin.recovery import back_row, edit_menu
from handlers.admin.recovery_texts import NOTE_PRESETS
from handlers.admin.states import Recovery
from handlers.edits import safe_edit_text
from handlers.routes import RouteTable
from services.error_records import ErrorService

routes = RouteTable(__name__)

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
    query: CallbackQuery, callback_data: ErrorDetailView, user: User, errors: ErrorService
) -> None:
    record = await errors.get(callback_data.record_id)
    if record is None:
        raise ValidationFailed(N_("That error record does not exist any more."))
    resolvable = record.resolved_at is None and Role.ADMIN in user.role_set
    await safe_edit_text(
        query.message, describe(record), reply_markup=error_screen(record.id, "", resolvable)
    )


@routes.callback_query(ErrorResolve.filter())
async def error_resolve(
    query: CallbackQuery,
    callback_data: ErrorResolve,
    user: User,
    errors: ErrorService,
    state: FSMContext,
) -> None:
    if Role.ADMIN not in user.role_set:
        raise PermissionDenied(N_("Only admins can resolve errors."))
    record = await errors.get(callback_data.record_id)
    if record is None:
        raise ValidationFailed(N_("That error record does not exist any more."))
    nonce = secrets.randbelow(10**9)
    await state.set_state(Recovery.note)
    await state.update_data(
        resolving={"record_id": record.id, "reference": record.reference, "nonce": nonce},
        menu=[query.message.chat.id, query.message.message_id] if query.message else None,
    )
    builder = InlineKeyboardBuilder()
    for index, preset in enumerate(NOTE_PRESETS):
        builder.button(text=_(preset), callback_data=ResolveNote(nonce=nonce, preset=index))
    builder.button(text=_("Cancel"), callback_data=ConfirmPending(nonce=nonce, go=False))
    builder.adjust(1)
    await safe_edit_text(
        query.message,
        _("How was {reference} resolved? Choose a note or type your own.").format(
            reference=record.reference
        ),
        reply_markup=builder.as_markup(),
    )


async def finish_resolve(
    bot: Bot,
    state: FSMContext,
    user: User,
    errors: ErrorService,
    note: str,
    edit: Message | None,
) -> None:
    data = await state.get_data()
    resolving = data.get("resolving")
    if not isinstance(resolving, dict):
        raise ValidationFailed(N_("This step is no longer open. Start again from the menu."))
    record = await errors.resolve(str(resolving["reference"]), user.id, note)
    await state.set_state(None)
    await state.update_data(resolving=None)
    text = "✅ " + _("Resolved.") + "\n\n" + describe(record)
    await edit_menu(bot, state, edit, text, error_screen(record.id, text, False))


@routes.callback_query(ResolveNote.filter())
async def resolve_preset(
    query: CallbackQuery,
    callback_data: ResolveNote,
    user: User,
    bot: Bot,
    errors: ErrorService,
    state: FSMContext,
) -> None:
    resolving = (await state.get_data()).get("resolving")
    valid = (
        isinstance(resolving, dict)
        and resolving.get("nonce") == callback_data.nonce
        and 0 <= callback_data.preset < len(NOTE_PRESETS)
    )
    if not valid:
        raise ValidationFailed(N_("This step is no longer open. Start again from the menu."))
    message = query.message if isinstance(query.message, Message) else None
    await finish_resolve(bot, state, user, errors, _(NOTE_PRESETS[callback_data.preset]), message)


@routes.message(Recovery.note, F.text)
async def resolve_typed(
    message: Message, user: User, bot: Bot, errors: ErrorService, state: FSMContext
) -> None:
    await finish_resolve(bot, state, user, errors, message.text or "", None)
