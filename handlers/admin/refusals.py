"""What people without the role hear from the staff screens, registered after them.

The staff routers are closed to everyone else by their router-level filter, so their updates
arrive here. Each refusal matches exactly what the section's handlers match and says what the
section said before: raised as PermissionDenied, ErrorMiddleware records the attempt and
answers with the reference code (as an alert on a button).
"""

from __future__ import annotations

from aiogram import F
from aiogram.filters import Command, StateFilter, or_f
from aiogram.types import TelegramObject

from core.exceptions import PermissionDenied
from core.i18n import N_
from handlers.admin import inventory, inventory_count, notifications
from handlers.admin.access import ADMINS, STAFF
from handlers.admin.callbacks import (
    BulkAction,
    ConfirmPending,
    ConfirmYes,
    ErrorDetailView,
    ErrorResolve,
    ErrorStatsView,
    JobView,
    NotificationsMenu,
    ReasonPreset,
    ReassignTo,
    ReconcileCallback,
    RecoveryLogFilter,
    RecoveryLogView,
    RecoveryMenu,
    StuckAction,
    StuckDetail,
    StuckFilterPick,
    StuckList,
)
from handlers.admin.states import Counting, DiscardingNotifications, Recovery
from handlers.routes import RouteTable

routes = RouteTable(__name__)

NOT_STAFF = ~STAFF
RECOVERY_BUTTONS = (
    RecoveryMenu,
    StuckList,
    StuckFilterPick,
    StuckDetail,
    StuckAction,
    ReassignTo,
    ReasonPreset,
    ConfirmPending,
    ConfirmYes,
    BulkAction,
    JobView,
    ErrorStatsView,
    ErrorDetailView,
    ErrorResolve,
    RecoveryLogView,
    RecoveryLogFilter,
)
TYPING_FOR_RECOVERY = StateFilter(Recovery.reason, Recovery.note, Recovery.log_request)
COUNTING = StateFilter(Counting.entering_sku, Counting.entering_quantity, Counting.entering_reason)
RECONCILE_CHANGE = F.action.in_(inventory.ADMIN_ACTIONS)
DISCARD = F.action.in_(notifications.ADMIN_ACTIONS)


@routes.message(Command("workflow_recovery"), NOT_STAFF)
@routes.message(
    StateFilter(Recovery.reason, Recovery.note, Recovery.log_request), F.text, NOT_STAFF
)
@routes.callback_query(or_f(*(data.filter() for data in RECOVERY_BUTTONS)), NOT_STAFF)
async def recovery_refused(event: TelegramObject) -> None:
    raise PermissionDenied(N_("This menu is for admins and support."))


@routes.message(Command("error"), NOT_STAFF)
async def error_lookup_refused(event: TelegramObject) -> None:
    raise PermissionDenied(N_("Only admins and support can look up errors."))


@routes.message(Command("health"), ~ADMINS)
async def health_refused(event: TelegramObject) -> None:
    raise PermissionDenied(N_("Only admins can see system health."))


@routes.message(Command("reconcile"), NOT_STAFF)
@routes.callback_query(ReconcileCallback.filter(~RECONCILE_CHANGE), NOT_STAFF)
async def reconcile_refused(event: TelegramObject) -> None:
    raise PermissionDenied(N_("Only admins and support can use inventory reconciliation."))


@routes.callback_query(ReconcileCallback.filter(RECONCILE_CHANGE), NOT_STAFF)
@routes.message(COUNTING, F.text, NOT_STAFF)
async def reconcile_change_refused(event: TelegramObject) -> None:
    raise PermissionDenied(N_("Only admins can change inventory. Support can only look."))


# A count asked for before the role was taken away still wants text, as it did for staff.
routes.message(COUNTING, NOT_STAFF)(inventory_count.not_text)


@routes.message(Command("notifications"), NOT_STAFF)
@routes.callback_query(NotificationsMenu.filter(~DISCARD), NOT_STAFF)
async def notifications_refused(event: TelegramObject) -> None:
    raise PermissionDenied(N_("Only admins and support can manage notifications."))


@routes.callback_query(NotificationsMenu.filter(DISCARD), NOT_STAFF)
@routes.message(DiscardingNotifications.entering_reason, F.text, NOT_STAFF)
async def discard_refused(event: TelegramObject) -> None:
    raise PermissionDenied(N_("Only admins can discard notifications."))
