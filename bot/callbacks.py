"""Every inline button's callback data. Fields are typed, but still re-checked on arrival:
Telegram clients can send any bytes as callback data."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class DraftAction(StrEnum):
    ADD = "add"
    CONFIRM = "ok"
    CANCEL = "no"


class Decision(StrEnum):
    APPROVE = "a"
    REJECT = "r"


class ItemPage(CallbackData, prefix="ip"):
    page: int


class ItemPick(CallbackData, prefix="it"):
    item_id: int


class DraftCallback(CallbackData, prefix="dr"):
    action: DraftAction


class DecisionCallback(CallbackData, prefix="dc"):
    action: Decision
    request_id: int
    version: int


class LanguageCallback(CallbackData, prefix="lg"):
    code: str


class MyRequestsPage(CallbackData, prefix="mr"):
    page: int


class NotificationAction(StrEnum):
    HOME = "h"
    LIST = "l"
    ROW = "r"
    RETRY = "rt"
    DISCARD_ASK = "da"  # choose a reason
    DISCARD = "d"  # with a preset reason (arg = its index)
    DISCARD_TYPE = "dt"  # the admin types the reason
    BULK_RETRY_ASK = "bra"
    BULK_DISCARD_ASK = "bda"
    BULK_RETRY = "br"  # arg = the highest id the preview covered, count = how many
    BULK_DISCARD = "bd"  # with a preset reason (reason = its index)


class NotificationsMenu(CallbackData, prefix="nq"):
    action: NotificationAction
    status: str = ""
    page: int = 0
    row_id: int = 0
    arg: int = 0
    count: int = 0
    reason: int = 0
