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


class ReconcileAction(StrEnum):
    HOME = "h"
    PREVIEW = "p"
    ASK_APPLY = "a"
    APPLY = "y"
    FINDINGS = "f"
    COUNT = "c"
    COUNT_SKU = "s"
    REASON = "r"
    HISTORY = "hi"


class ReconcileCallback(CallbackData, prefix="rc"):
    action: ReconcileAction
    # An item id for COUNT, a preset index for REASON; 0 otherwise.
    id: int = 0
