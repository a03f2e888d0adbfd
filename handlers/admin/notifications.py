"""Notification retries: admins and support see the queue, retry rows; admins discard them.

One message is edited in place while the admin navigates. Every button is checked again on
arrival (role, filter, ids), because callback data can be forged.
"""

from __future__ import annotations

from html import escape

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from core.enums import NotificationStatus, Role
from core.exceptions import DomainError, PermissionDenied, ValidationFailed
from core.i18n import N_
from database.models import PendingNotification, User
from handlers.admin.callbacks import NotificationAction as A
from handlers.admin.callbacks import NotificationsMenu as Menu
from handlers.admin.states import DiscardingNotifications
from handlers.edits import safe_answer, safe_edit_text
from handlers.routes import RouteTable
from outbox.sender import Outcome
from services.notification_admin import LISTED, NotificationAdminService

routes = RouteTable(__name__)

PAGE_SIZE = 5
BACK_TO_MAIN_MENU = "wr:home"  # the /workflow_recovery main menu
STAFF = frozenset({Role.ADMIN, Role.SUPPORT})
PRESET_REASONS = (
    N_("The person no longer needs it"),
    N_("Outdated: the request has moved on"),
    N_("Sent another way"),
)
STATUS_NAMES = {
    NotificationStatus.PENDING: N_("Waiting"),
    NotificationStatus.RETRYING: N_("Retrying"),
    NotificationStatus.DEAD: N_("Dead"),
}

Markup = InlineKeyboardMarkup
Button = InlineKeyboardButton


def home_button_data() -> str:
    """Callback data of this section's home screen, for a button in the main menu."""
    return Menu(action=A.HOME).pack()


def require_staff(user: User) -> None:
    if not user.role_set & STAFF:
        raise PermissionDenied(N_("Only admins and support can manage notifications."))


def require_admin(user: User) -> None:
    if Role.ADMIN not in user.role_set:
        raise PermissionDenied(N_("Only admins can discard notifications."))


def parse_status(value: str) -> NotificationStatus:
    try:
        status = NotificationStatus(value)
    except ValueError:
        raise ValidationFailed(N_("Unknown list: {value}."), value=value[:16]) from None
    if status not in LISTED:
        raise ValidationFailed(N_("Unknown list: {value}."), value=value[:16])
    return status


def status_name(status: NotificationStatus) -> str:
    return _(STATUS_NAMES[status])


def button(text: str, data: Menu | str) -> Button:
    return Button(text=text, callback_data=data if isinstance(data, str) else data.pack())


# -- screens ---------------------------------------------------------------------------------


async def home_screen(service: NotificationAdminService) -> tuple[str, Markup]:
    counts = await service.stats()
    text = "\n".join(
        [
            _("<b>Notification retries</b>"),
            _("Waiting: {count}").format(count=counts[NotificationStatus.PENDING]),
            _("Retrying: {count}").format(count=counts[NotificationStatus.RETRYING]),
            _("Dead: {count}").format(count=counts[NotificationStatus.DEAD]),
        ]
    )
    rows = [
        [button(f"{status_name(s)} ({counts[s]})", Menu(action=A.LIST, status=s.value))]
        for s in LISTED
    ]
    rows.append([button(_("« Back"), BACK_TO_MAIN_MENU)])
    return text, Markup(inline_keyboard=rows)


def describe_row(row: PendingNotification) -> str:
    recipient = escape(row.recipient.display_name)
    parts = [
        _("#{id} to {recipient} ({telegram_id}), {kind}").format(
            id=row.id,
            recipient=recipient,
            telegram_id=row.recipient.telegram_id,
            kind=escape(row.kind),
        ),
        _("attempts: {attempts}").format(attempts=row.attempts),
    ]
    if row.status in (NotificationStatus.PENDING, NotificationStatus.RETRYING):
        parts.append(
            _("next: {when} UTC").format(when=row.next_attempt_at.strftime("%Y-%m-%d %H:%M"))
        )
    if row.dead_reason is not None and row.status is NotificationStatus.DEAD:
        parts.append(_("reason: {reason}").format(reason=row.dead_reason.value))
    if row.last_error:
        parts.append(_("last error: {error}").format(error=escape(row.last_error[:200])))
    return "\n".join(parts)


async def list_screen(
    service: NotificationAdminService, user: User, status: NotificationStatus, page: int
) -> tuple[str, Markup]:
    found = await service.page(status, page, PAGE_SIZE)
    lines = [
        _("<b>{name}</b>: {total}, page {page} of {pages}").format(
            name=status_name(status), total=found.total, page=found.page + 1, pages=found.pages
        )
    ]
    lines += [describe_row(row) for row in found.rows] or [_("Nothing here.")]
    keyboard = [
        [
            button(
                f"#{row.id}",
                Menu(action=A.ROW, status=status.value, page=found.page, row_id=row.id),
            )
        ]
        for row in found.rows
    ]
    nav = []
    if found.page > 0:
        nav.append(button("‹", Menu(action=A.LIST, status=status.value, page=found.page - 1)))
    if found.page + 1 < found.pages:
        nav.append(button("›", Menu(action=A.LIST, status=status.value, page=found.page + 1)))
    if nav:
        keyboard.append(nav)
    if found.total:
        keyboard.append(
            [button(_("Retry all"), Menu(action=A.BULK_RETRY_ASK, status=status.value))]
        )
        if Role.ADMIN in user.role_set:
            keyboard.append(
                [button(_("Discard all"), Menu(action=A.BULK_DISCARD_ASK, status=status.value))]
            )
    keyboard.append([button(_("« Notifications"), Menu(action=A.HOME))])
    return "\n\n".join(lines), Markup(inline_keyboard=keyboard)


def row_screen(
    row: PendingNotification, user: User, status: NotificationStatus, page: int
) -> tuple[str, Markup]:
    back = Menu(action=A.LIST, status=status.value, page=page)
    keyboard = []
    if row.status in LISTED:
        here = {"status": status.value, "page": page, "row_id": row.id}
        keyboard.append([button(_("Retry now"), Menu(action=A.RETRY, **here))])
        if Role.ADMIN in user.role_set:
            keyboard.append([button(_("Discard"), Menu(action=A.DISCARD_ASK, **here))])
    keyboard.append([button(_("« List"), back)])
    return describe_row(row), Markup(inline_keyboard=keyboard)


def outcome_text(outcomes: list[Outcome]) -> str:
    sent = sum(o.status is NotificationStatus.SENT for o in outcomes)
    if len(outcomes) == 1:
        [outcome] = outcomes
        if outcome.status is NotificationStatus.SENT:
            return _("Delivered.")
        if outcome.status is NotificationStatus.PENDING:
            return _("Queued: it goes out as soon as Telegram accepts messages again.")
        return _("Not delivered: {error}").format(error=escape((outcome.error or "")[:200]))
    return _("Delivered {sent} of {count}; the rest stay in the queue.").format(
        sent=sent, count=len(outcomes)
    )


def reasons_keyboard(make: Menu, back: Menu) -> Markup:
    rows = [
        [button(_(reason), make.model_copy(update={"reason": index}))]
        for index, reason in enumerate(PRESET_REASONS)
    ]
    typed = make.model_copy(update={"action": A.DISCARD_TYPE})
    rows.append([button(_("Type a reason"), typed)])
    rows.append([button(_("« Back"), back)])
    return Markup(inline_keyboard=rows)


# -- handlers --------------------------------------------------------------------------------


@routes.message(Command("notifications"))
async def notifications_command(
    message: Message, user: User, notifications: NotificationAdminService
) -> None:
    require_staff(user)
    text, markup = await home_screen(notifications)
    await message.answer(text, reply_markup=markup)


@routes.callback_query(Menu.filter(F.action == A.HOME))
async def home(query: CallbackQuery, user: User, notifications: NotificationAdminService) -> None:
    require_staff(user)
    text, markup = await home_screen(notifications)
    await safe_answer(query)
    await safe_edit_text(query.message, text, markup)


@routes.callback_query(Menu.filter(F.action == A.LIST))
async def show_list(
    query: CallbackQuery, callback_data: Menu, user: User, notifications: NotificationAdminService
) -> None:
    require_staff(user)
    status = parse_status(callback_data.status)
    text, markup = await list_screen(notifications, user, status, callback_data.page)
    await safe_answer(query)
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
    require_staff(user)
    status = parse_status(callback_data.status)
    row = await existing_row(notifications, callback_data.row_id)
    text, markup = row_screen(row, user, status, callback_data.page)
    await safe_answer(query)
    await safe_edit_text(query.message, text, markup)


@routes.callback_query(Menu.filter(F.action == A.RETRY))
async def retry_row(
    query: CallbackQuery, callback_data: Menu, user: User, notifications: NotificationAdminService
) -> None:
    require_staff(user)
    status = parse_status(callback_data.status)
    await existing_row(notifications, callback_data.row_id)
    outcomes = await notifications.retry([callback_data.row_id], user.id)
    row = await existing_row(notifications, callback_data.row_id)
    text, markup = row_screen(row, user, status, callback_data.page)
    await safe_answer(query)
    await safe_edit_text(query.message, f"{outcome_text(outcomes)}\n\n{text}", markup)


@routes.callback_query(Menu.filter(F.action == A.DISCARD_ASK))
async def discard_ask(
    query: CallbackQuery, callback_data: Menu, user: User, notifications: NotificationAdminService
) -> None:
    require_admin(user)
    parse_status(callback_data.status)
    row = await existing_row(notifications, callback_data.row_id)
    make = callback_data.model_copy(update={"action": A.DISCARD})
    back = callback_data.model_copy(update={"action": A.ROW})
    text = _("Discard notification #{id}? Choose a reason.").format(id=row.id)
    await safe_answer(query)
    await safe_edit_text(query.message, text, reasons_keyboard(make, back))


def preset_reason(index: int) -> str:
    if not 0 <= index < len(PRESET_REASONS):
        raise ValidationFailed(N_("Unknown reason."))
    return PRESET_REASONS[index]


@routes.callback_query(Menu.filter(F.action == A.DISCARD))
async def discard_row(
    query: CallbackQuery, callback_data: Menu, user: User, notifications: NotificationAdminService
) -> None:
    require_admin(user)
    status = parse_status(callback_data.status)
    reason = preset_reason(callback_data.reason)
    await existing_row(notifications, callback_data.row_id)
    await notifications.discard([callback_data.row_id], user.id, reason)
    text, markup = await list_screen(notifications, user, status, callback_data.page)
    await safe_answer(query, _("Discarded."))
    done = _("Notification #{id} discarded.").format(id=callback_data.row_id)
    await safe_edit_text(query.message, f"{done}\n\n{text}", markup)


async def bulk_preview(
    notifications: NotificationAdminService, status: NotificationStatus
) -> tuple[int, int]:
    """How many rows the filter shows now, and the highest id among them."""
    ids = await notifications.selection(status, up_to_id=2**62)
    return len(ids), max(ids, default=0)


@routes.callback_query(Menu.filter(F.action == A.BULK_RETRY_ASK))
async def bulk_retry_ask(
    query: CallbackQuery, callback_data: Menu, user: User, notifications: NotificationAdminService
) -> None:
    require_staff(user)
    status = parse_status(callback_data.status)
    count, top = await bulk_preview(notifications, status)
    back = Menu(action=A.LIST, status=status.value)
    text = _("Retry all {count} in “{name}” now?").format(count=count, name=status_name(status))
    go = Menu(action=A.BULK_RETRY, status=status.value, arg=top, count=count)
    rows = [[button(_("Yes, retry {count}").format(count=count), go)], [button(_("« Back"), back)]]
    await safe_answer(query)
    await safe_edit_text(query.message, text, Markup(inline_keyboard=rows))


@routes.callback_query(Menu.filter(F.action == A.BULK_DISCARD_ASK))
async def bulk_discard_ask(
    query: CallbackQuery, callback_data: Menu, user: User, notifications: NotificationAdminService
) -> None:
    require_admin(user)
    status = parse_status(callback_data.status)
    count, top = await bulk_preview(notifications, status)
    back = Menu(action=A.LIST, status=status.value)
    text = _("Discard all {count} in “{name}”? Choose a reason.").format(
        count=count, name=status_name(status)
    )
    make = Menu(action=A.BULK_DISCARD, status=status.value, arg=top, count=count)
    await safe_answer(query)
    await safe_edit_text(query.message, text, reasons_keyboard(make, back))


async def confirmed_selection(
    notifications: NotificationAdminService, status: NotificationStatus, top: int, count: int
) -> list[int]:
    """Exactly what the preview counted; if the list changed since, ask again."""
    ids = await notifications.selection(status, top)
    if len(ids) != count or count == 0:
        raise ValidationFailed(
            N_("The list changed since the preview ({count} now). Open it again."),
            count=len(ids),
        )
    return ids


@routes.callback_query(Menu.filter(F.action == A.BULK_RETRY))
async def bulk_retry(
    query: CallbackQuery, callback_data: Menu, user: User, notifications: NotificationAdminService
) -> None:
    require_staff(user)
    status = parse_status(callback_data.status)
    ids = await confirmed_selection(notifications, status, callback_data.arg, callback_data.count)
    outcomes = await notifications.retry(ids, user.id)
    text, markup = await list_screen(notifications, user, status, 0)
    await safe_answer(query)
    await safe_edit_text(query.message, f"{outcome_text(outcomes)}\n\n{text}", markup)


@routes.callback_query(Menu.filter(F.action == A.BULK_DISCARD))
async def bulk_discard(
    query: CallbackQuery, callback_data: Menu, user: User, notifications: NotificationAdminService
) -> None:
    require_admin(user)
    status = parse_status(callback_data.status)
    reason = preset_reason(callback_data.reason)
    ids = await confirmed_selection(notifications, status, callback_data.arg, callback_data.count)
    count = await notifications.discard(ids, user.id, reason)
    text, markup = await list_screen(notifications, user, status, 0)
    await safe_answer(query, _("Discarded."))
    done = _("{count} notifications discarded.").format(count=count)
    await safe_edit_text(query.message, f"{done}\n\n{text}", markup)


@routes.callback_query(Menu.filter(F.action == A.DISCARD_TYPE))
async def discard_type(
    query: CallbackQuery,
    callback_data: Menu,
    user: User,
    state: FSMContext,
    notifications: NotificationAdminService,
) -> None:
    require_admin(user)
    status = parse_status(callback_data.status)
    if callback_data.row_id:
        await existing_row(notifications, callback_data.row_id)
    else:
        await confirmed_selection(notifications, status, callback_data.arg, callback_data.count)
    await state.set_state(DiscardingNotifications.entering_reason)
    await state.update_data(nq=callback_data.pack())
    await safe_answer(query)
    await safe_edit_text(query.message, _("Send the reason for discarding, or /cancel."))


@routes.message(DiscardingNotifications.entering_reason, F.text)
async def discard_reason_typed(
    message: Message, user: User, state: FSMContext, notifications: NotificationAdminService
) -> None:
    require_admin(user)
    data = Menu.unpack(str((await state.get_data())["nq"]))
    status = parse_status(data.status)
    reason = message.text or ""
    if data.row_id:
        ids = [data.row_id]
    else:
        ids = await confirmed_selection(notifications, status, data.arg, data.count)
    try:
        count = await notifications.discard(ids, user.id, reason)
    except ValidationFailed:
        raise  # stay in the state: a better reason can follow
    except DomainError:
        await state.clear()  # the rows moved on; waiting for a reason makes no sense now
        raise
    await state.clear()
    text, markup = await list_screen(notifications, user, status, 0)
    done = _("{count} notifications discarded.").format(count=count)
    await message.answer(f"{done}\n\n{text}", reply_markup=markup)
