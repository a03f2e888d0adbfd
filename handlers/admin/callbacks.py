"""Callback data of every staff screen, in one module: refusals.py recognises a staff button
by the prefix of a class defined here. Prefixes and fields stay as they are: old messages still
carry them. Every field is bounded where it is parsed, with the types of handlers/callbacks.py:
out of range, a button is "no longer active" before any handler runs."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

from core.enums import RecoveryAction
from handlers.callbacks import Choice, Id, Natural, Page, Pick, Word
from services.confirmations import MAX_TOKEN

# What secrets.token_urlsafe makes (services/confirmations.py), at most as long as it stores.
Token = Annotated[str, Field(min_length=1, max_length=MAX_TOKEN, pattern=r"^[A-Za-z0-9_-]+$")]

# -- every "Yes" -------------------------------------------------------------------------


class ConfirmYes(CallbackData, prefix="cy"):
    """The id of a stored confirmation (services/confirmations.py), nothing else to trust."""

    token: Token
    pick: Choice = 0  # a preset shown on the button (a reason, a note); TYPE_OWN: type one instead


TYPE_OWN = -1


# -- /workflow_recovery -------------------------------------------------------------------
# Filters travel as small integers (indexes into the workflow file), never as free text.


class MenuSection(StrEnum):
    HOME = "home"  # the /workflow_recovery main menu
    HEALTH = "health"  # its System health entry (the health section answers it)


class RecoveryMenu(CallbackData, prefix="wr"):
    section: Word  # a MenuSection; a plain str so that an unknown one is answered, not stale


class StuckList(CallbackData, prefix="ws"):
    page: Page
    wf: Choice  # index of the workflow, -1: all
    st: Choice  # index of the stage in that workflow, -1: all


class StuckFilterPick(CallbackData, prefix="wf"):
    wf: Choice
    st: Choice


class StuckDetail(CallbackData, prefix="wd"):
    request_id: Id


class StuckAction(CallbackData, prefix="wa"):
    action: RecoveryAction
    request_id: Id
    version: Id


class ReassignTo(CallbackData, prefix="wt"):
    request_id: Id
    version: Id
    user_id: Id


class ReasonPreset(CallbackData, prefix="wy"):
    nonce: Natural
    preset: Pick


class ConfirmPending(CallbackData, prefix="wc"):
    nonce: Natural
    go: bool


class BulkAction(CallbackData, prefix="wb"):
    action: RecoveryAction
    wf: Choice
    st: Choice


class JobView(CallbackData, prefix="wj"):
    job_id: Id


class ErrorStatsView(CallbackData, prefix="we"):
    period: Word  # h, d or w; checked on arrival


class ErrorDetailView(CallbackData, prefix="wed"):
    record_id: Id


class ErrorResolve(CallbackData, prefix="wer"):
    record_id: Id


class RecoveryLogView(CallbackData, prefix="wl"):
    page: Page
    actor: Natural  # user id, 0: everyone
    request: Natural  # request id, 0: all


class RecoveryLogFilter(CallbackData, prefix="wlf"):
    kind: Word  # actor, request or clear; checked on arrival


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
    id: Natural = 0


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
    status: Word = ""  # a NotificationStatus; checked on arrival ("Unknown list")
    page: Page = 0
    row_id: Natural = 0
    # Filled (a row id, a count, a preset) by buttons of the time before stored confirmations,
    # whose actions are gone; the bot writes 0. Bounded all the same.
    arg: Natural = 0
    count: Natural = 0
    reason: Pick = 0


# -- the home of each section, for the buttons of the others ------------------------------


def main_menu_data() -> str:
    return RecoveryMenu(section=MenuSection.HOME).pack()


def reconcile_home_data() -> str:
    return ReconcileCallback(action=ReconcileAction.HOME).pack()


def notifications_home_data() -> str:
    return NotificationsMenu(action=NotificationAction.HOME).pack()
