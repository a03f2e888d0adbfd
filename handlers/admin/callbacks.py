"""Callback data of every staff screen, in one module: refusals.py recognises a staff button
by the prefix of a class defined here. Prefixes and fields stay as they are: old messages still
carry them. Fields are typed, but still re-checked on arrival: Telegram clients can send any
bytes as callback data."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from core.enums import RecoveryAction

# -- every "Yes" -------------------------------------------------------------------------


class ConfirmYes(CallbackData, prefix="cy"):
    """The id of a stored confirmation (services/confirmations.py), nothing else to trust."""

    token: str
    pick: int = 0  # a preset shown on the button (a reason, a note); TYPE_OWN: type one instead


TYPE_OWN = -1


# -- /workflow_recovery -------------------------------------------------------------------
# Filters travel as small integers (indexes into the workflow file), never as free text.


class MenuSection(StrEnum):
    HOME = "home"  # the /workflow_recovery main menu
    HEALTH = "health"  # its System health entry (the health section answers it)


class RecoveryMenu(CallbackData, prefix="wr"):
    section: str  # a MenuSection; a plain str so that an unknown one is answered, not stale


class StuckList(CallbackData, prefix="ws"):
    page: int
    wf: int  # index of the workflow, -1: all
    st: int  # index of the stage in that workflow, -1: all


class StuckFilterPick(CallbackData, prefix="wf"):
    wf: int
    st: int


class StuckDetail(CallbackData, prefix="wd"):
    request_id: int


class StuckAction(CallbackData, prefix="wa"):
    action: RecoveryAction
    request_id: int
    version: int


class ReassignTo(CallbackData, prefix="wt"):
    request_id: int
    version: int
    user_id: int


class ReasonPreset(CallbackData, prefix="wy"):
    nonce: int
    preset: int


class ConfirmPending(CallbackData, prefix="wc"):
    nonce: int
    go: bool


class BulkAction(CallbackData, prefix="wb"):
    action: RecoveryAction
    wf: int
    st: int


class JobView(CallbackData, prefix="wj"):
    job_id: int


class ErrorStatsView(CallbackData, prefix="we"):
    period: str  # h, d or w; checked on arrival


class ErrorDetailView(CallbackData, prefix="wed"):
    record_id: int


class ErrorResolve(CallbackData, prefix="wer"):
    record_id: int


class RecoveryLogView(CallbackData, prefix="wl"):
    page: int
    actor: int  # user id, 0: everyone
    request: int  # request id, 0: all


class RecoveryLogFilter(CallbackData, prefix="wlf"):
    kind: str  # actor, request or clear; checked on arrival


class ReconcileAction(StrEnum):
    HOME = "h"
    PREVIEW = "p"
    ASK_APPLY = "a"  # the confirmation; its "Yes" is a ConfirmYes
    FINDINGS = "f"
    COUNT = "c"
    COUNT_SKU = "s"
    REASON = "r"
    HISTORY = "hi"


# The buttons only admins may press: support hears the section's refusal, and so does everyone
# else (refusals.py).
RECONCILE_ADMIN_ONLY = frozenset(
    {
        ReconcileAction.ASK_APPLY,
        ReconcileAction.COUNT,
        ReconcileAction.COUNT_SKU,
        ReconcileAction.REASON,
    }
)


class ReconcileCallback(CallbackData, prefix="rc"):
    action: ReconcileAction
    # An item id for COUNT, a preset index for REASON; 0 otherwise.
    id: int = 0


class NotificationAction(StrEnum):
    HOME = "h"
    LIST = "l"
    ROW = "r"
    # The confirmations; their "Yes" (a reason, for discarding) is a ConfirmYes.
    RETRY = "rt"
    DISCARD_ASK = "da"  # choose a reason
    BULK_RETRY_ASK = "bra"
    BULK_DISCARD_ASK = "bda"


NOTIFICATIONS_ADMIN_ONLY = frozenset(
    {NotificationAction.DISCARD_ASK, NotificationAction.BULK_DISCARD_ASK}
)


class NotificationsMenu(CallbackData, prefix="nq"):
    action: NotificationAction
    status: str = ""
    page: int = 0
    row_id: int = 0
    arg: int = 0
    count: int = 0
    reason: int = 0


# -- the home of each section, for the buttons of the others ------------------------------


def main_menu_data() -> str:
    return RecoveryMenu(section=MenuSection.HOME).pack()


def reconcile_home_data() -> str:
    return ReconcileCallback(action=ReconcileAction.HOME).pack()


def notifications_home_data() -> str:
    return NotificationsMenu(action=NotificationAction.HOME).pack()
