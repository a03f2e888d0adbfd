"""Notification retries: admins and support see the queue, retry rows; admins discard them.

One message is edited in place while the admin navigates. Every button is checked again on
arrival (role, filter, ids), because callback data can be forged.
"""

from __future__ import annotations

from typing import Any

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from core.enums import NotificationStatus
from core.exceptions import ValidationFailed
from core.i18n import N_
from database.models import PendingNotification, User
from handlers.admin.access import DISCARD_NOTIFICATIONS, require_admin
from handlers.admin.callbacks import NotificationAction as A
from handlers.admin.callbacks import NotificationsMenu as Menu
from handlers.admin.confirm import (
    Applier,
    Confirmed,
    Result,
    apply_typed,
    ask,
    outcome,
    yes,
)
from handlers.admin.notifications.screens import (
    PRESET_REASONS,
    Markup,
    button,
    describe_row,
    home_screen,
    in_flight_text,
    list_screen,
    outcome_text,
    parse_status,
    reasons_keyboard,
    row_screen,
    status_name,
)
from handlers.admin.states import DiscardingNotifications
from handlers.admin.texts import STEP_CLOSED
from handlers.edits import safe_edit_text
from handlers.routes import RouteTable
from services.confirmation_scopes import NotificationDiscardScope, NotificationRetryScope
from services.confirmations import ConfirmationService, Pending
from services.notification_admin import NotificationAdminService, SelectionChanged, Shown

routes = RouteTable(__name__)
RETRIED = N_("{count} notification(s) retried.")
DISCARDED = N_("{count} notification(s) discarded.")


@routes.message(Command("notifications"))
async def notifications_command(message: Message, notifications: NotificationAdminService) -> None:
    text, markup = await home_screen(notifications)
    await message.answer(text, reply_markup=markup)


@routes.callback_query(Menu.filter(F.action == A.HOME))
async def home(query: CallbackQuery, notifications: NotificationAdminService) -> None:
    text, markup = await home_screen(notifications)
    await safe_edit_text(query.message, text, markup)


@routes.callback_query(Menu.filter(F.action == A.LIST))
async def show_list(
    query: CallbackQuery, callback_data: Menu, user: User, notifications: NotificationAdminService
) -> None:
    status = parse_status(callback_data.status)
    text, markup = await list_screen(notifications, user, status, callback_data.page)
    await safe_edit_text(query.message, text, markup)


async def existing_row(
    notifications: NotificationAdminService, row_id: int
) -> PendingNotification:
    row = await notifications.get(row_id)
    if row is None:
        raise ValidationFailed(N_("Notification #{id} does not exist."), id=row_id)
    return row


@routes.callback_query(Menu.filter(F.action == A.ROW))
async def show_row(
    query: CallbackQuery, callback_data: Menu, user: User, notifications: NotificationAdminService
) -> None:
    status = parse_status(callback_data.status)
    row = await existing_row(notifications, callback_data.row_id)
    text, markup = row_screen(row, user, status, callback_data.page)
    await safe_edit_text(query.message, text, markup)


def back_to_row(status: NotificationStatus, page: int, row_id: int) -> Menu:
    return Menu(action=A.ROW, status=status.value, page=page, row_id=row_id)


async def confirmation(
    confirmations: ConfirmationService,
    user: User,
    kind: type[NotificationRetryScope | NotificationDiscardScope],
    status: NotificationStatus,
    shown: Shown,
    text: str,
    *,
    one: bool = False,
) -> str:
    rows = tuple((i, s, a) for i, (s, a) in shown.items())
    return await ask(confirmations, user, kind(status, rows, one), text)


@routes.callback_query(Menu.filter(F.action == A.RETRY))
async def retry_ask(
    query: CallbackQuery,
    callback_data: Menu,
    user: User,
    notifications: NotificationAdminService,
    confirmations: ConfirmationService,
) -> None:
    status = parse_status(callback_data.status)
    row = await existing_row(notifications, callback_data.row_id)
    shown = await notifications.shown(row.status, [row.id])
    text = _("Retry notification #{id} now?").format(id=row.id) + "\n\n" + describe_row(row)
    token = await confirmation(
        confirmations, user, NotificationRetryScope, status, shown, text, one=True
    )
    back = back_to_row(status, callback_data.page, row.id)
    rows = [[button(_("Yes, retry"), yes(token))], [button(_("« Back"), back)]]
    await safe_edit_text(query.message, text, Markup(inline_keyboard=rows))


@routes.callback_query(Menu.filter(F.action == A.DISCARD_ASK))
async def discard_ask(
    query: CallbackQuery,
    callback_data: Menu,
    user: User,
    notifications: NotificationAdminService,
    confirmations: ConfirmationService,
) -> None:
    require_admin(user, DISCARD_NOTIFICATIONS)
    status = parse_status(callback_data.status)
    row = await existing_row(notifications, callback_data.row_id)
    shown = await notifications.shown(row.status, [row.id])
    text = _("Discard notification #{id}? Choose a reason.").format(id=row.id)
    token = await confirmation(
        confirmations, user, NotificationDiscardScope, status, shown, text, one=True
    )
    back = back_to_row(status, callback_data.page, row.id)
    await safe_edit_text(query.message, text, reasons_keyboard(token, back))


@routes.callback_query(Menu.filter(F.action == A.BULK_RETRY_ASK))
async def bulk_retry_ask(
    query: CallbackQuery,
    callback_data: Menu,
    user: User,
    notifications: NotificationAdminService,
    confirmations: ConfirmationService,
) -> None:
    status = parse_status(callback_data.status)
    shown = await notifications.shown(status)
    back = Menu(action=A.LIST, status=status.value)
    count = len(shown)
    text = _("Retry all {count} in “{name}” now?").format(count=count, name=status_name(status))
    rows = [[button(_("« Back"), back)]]
    if shown:
        token = await confirmation(
            confirmations, user, NotificationRetryScope, status, shown, text
        )
        rows.insert(0, [button(_("Yes, retry {count}").format(count=count), yes(token))])
    await safe_edit_text(query.message, text, Markup(inline_keyboard=rows))


@routes.callback_query(Menu.filter(F.action == A.BULK_DISCARD_ASK))
async def bulk_discard_ask(
    query: CallbackQuery,
    callback_data: Menu,
    user: User,
    notifications: NotificationAdminService,
    confirmations: ConfirmationService,
) -> None:
    require_admin(user, DISCARD_NOTIFICATIONS)
    status = parse_status(callback_data.status)
    shown = await notifications.shown(status)
    back = Menu(action=A.LIST, status=status.value)
    if not shown:
        text, markup = await list_screen(notifications, user, status, 0)
        await safe_edit_text(query.message, text, markup)
        return
    text = _("Discard all {count} in “{name}”? Choose a reason.").format(
        count=len(shown), name=status_name(status)
    )
    token = await confirmation(confirmations, user, NotificationDiscardScope, status, shown, text)
    await safe_edit_text(query.message, text, reasons_keyboard(token, back))


Listed = Confirmed[NotificationRetryScope] | Confirmed[NotificationDiscardScope]


def listed(done: Listed) -> tuple[NotificationStatus, Shown]:
    return parse_status(done.scope.status), done.scope.shown


async def changed(done: Listed, status: NotificationStatus, shown: Shown, count: int) -> Result:
    """Nothing was done: say so, and show the list as it is now."""
    notifications = done.service("notifications", NotificationAdminService)
    note = _(SelectionChanged.message).format(count=count)
    text, markup = await list_screen(notifications, done.user, status, 0)
    stored = outcome(SelectionChanged.message, "changed", count=count)
    return Result(f"⚠️ {note}\n\n{text}", markup, stored, answer=note)


async def retry_rows(done: Confirmed[NotificationRetryScope]) -> Result:
    """Exactly the rows listed, each only while it is as it was shown."""
    notifications = done.service("notifications", NotificationAdminService)
    status, shown = listed(done)
    try:
        retried = await notifications.retry(list(shown), done.user.id, expect=shown)
    except SelectionChanged as exc:
        return await changed(done, status, shown, int(exc.params["count"]))
    outcomes = retried.outcomes
    said = "\n".join(
        part
        for part in (
            outcome_text(outcomes) if outcomes else "",
            in_flight_text(len(retried.in_flight)),
        )
        if part
    )
    stored = outcome(RETRIED, count=len(outcomes))
    if done.scope.one:
        row = await existing_row(notifications, next(iter(shown)))
        text, markup = row_screen(row, done.user, status, 0)
        return Result(f"{said}\n\n{text}", markup, stored)
    text, markup = await list_screen(notifications, done.user, status, 0)
    return Result(f"{said}\n\n{text}", markup, stored)


async def type_reason(pending: Pending, state: FSMContext, query: CallbackQuery) -> None:
    await state.set_state(DiscardingNotifications.entering_reason)
    await state.update_data(nq_confirm=pending.token)
    await safe_edit_text(query.message, _("Send the reason for discarding, or /cancel."))


async def discard_rows(done: Confirmed[NotificationDiscardScope]) -> Result:
    require_admin(done.user, DISCARD_NOTIFICATIONS)
    notifications = done.service("notifications", NotificationAdminService)
    status, shown = listed(done)
    reason = done.choice(PRESET_REASONS)
    try:
        discarded = await notifications.discard(list(shown), done.user.id, reason, expect=shown)
    except SelectionChanged as exc:
        await done.state.clear()
        return await changed(done, status, shown, int(exc.params["count"]))
    await done.state.clear()
    count = discarded.count
    text, markup = await list_screen(notifications, done.user, status, 0)
    if done.scope.one and done.typed is None:
        done_text = _("Notification #{id} discarded.").format(id=next(iter(shown)))
    else:
        done_text = _("{count} notifications discarded.").format(count=count)
        if skipped := in_flight_text(len(discarded.in_flight)):
            done_text += "\n" + skipped
    stored = outcome(DISCARDED, count=count)
    return Result(f"{done_text}\n\n{text}", markup, stored, answer=_("Discarded."))


DISCARD = Applier(NotificationDiscardScope, discard_rows, type_step=type_reason)
APPLIERS = (Applier(NotificationRetryScope, retry_rows), DISCARD)


@routes.message(DiscardingNotifications.entering_reason, F.text)
async def discard_reason_typed(
    message: Message, user: User, state: FSMContext, **data: Any
) -> None:
    require_admin(user, DISCARD_NOTIFICATIONS)
    token = (await state.get_data()).get("nq_confirm")
    if not isinstance(token, str):
        await state.clear()
        raise ValidationFailed(STEP_CLOSED)
    # A reason that is refused (empty, too long) leaves the step open for a better one.
    result = await apply_typed(DISCARD, message, user, state, token, data)
    if result is not None:
        await message.answer(result.text, reply_markup=result.markup)
