"""Notification retries: the screens (text and buttons) and what their buttons carry. A row of
a list is cut to its share of the page (core/fitting.py)."""

from __future__ import annotations

from html import escape

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from core.enums import NotificationStatus
from core.exceptions import ValidationFailed
from core.fitting import ROW_LIMIT, cut_html, fit_text
from core.i18n import N_
from database.models import PendingNotification, User
from handlers.admin.access import is_admin
from handlers.admin.callbacks import TYPE_OWN, ConfirmYes, main_menu_data
from handlers.admin.callbacks import NotificationAction as A
from handlers.admin.callbacks import NotificationsMenu as Menu
from outbox.sender import Outcome
from services.notification_admin import LISTED, NotificationAdminService

PAGE_SIZE = 5
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


async def home_screen(service: NotificationAdminService) -> tuple[str, Markup]:
    counts = await service.stats(LISTED)  # not the sent ones: a year of history
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
    rows.append([button(_("« Back"), main_menu_data())])
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
    head = _("<b>{name}</b>: {total}, page {page} of {pages}").format(
        name=status_name(status), total=found.total, page=found.page + 1, pages=found.pages
    )
    rows = [cut_html(describe_row(row), ROW_LIMIT) for row in found.rows]
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
        if is_admin(user.role_set):
            keyboard.append(
                [button(_("Discard all"), Menu(action=A.BULK_DISCARD_ASK, status=status.value))]
            )
    keyboard.append([button(_("« Notifications"), Menu(action=A.HOME))])
    text = fit_text(head, rows or [_("Nothing here.")], sep="\n\n")
    return text, Markup(inline_keyboard=keyboard)


def row_screen(
    row: PendingNotification, user: User, status: NotificationStatus, page: int
) -> tuple[str, Markup]:
    back = Menu(action=A.LIST, status=status.value, page=page)
    keyboard = []
    if row.status in LISTED:
        here = {"status": status.value, "page": page, "row_id": row.id}
        keyboard.append([button(_("Retry now"), Menu(action=A.RETRY, **here))])
        if is_admin(user.role_set):
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


def in_flight_text(count: int) -> str:
    """The rows a bulk retry or discard left alone because they were being sent ("" if none)."""
    if not count:
        return ""
    return ngettext(
        "{count} notification is being sent right now and was left alone. Look again in a moment.",
        "{count} notifications are being sent right now and were left alone. "
        "Look again in a moment.",
        count,
    ).format(count=count)


def reasons_keyboard(token: str, back: Menu) -> Markup:
    """The reasons of a discard confirmation: each one is its "Yes"."""
    rows = [
        [button(_(reason), ConfirmYes(token=token, pick=index).pack())]
        for index, reason in enumerate(PRESET_REASONS)
    ]
    rows.append([button(_("Type a reason"), ConfirmYes(token=token, pick=TYPE_OWN).pack())])
    rows.append([button(_("« Back"), back)])
    return Markup(inline_keyboard=rows)
