"""Callback data of the requester and approver buttons (the staff screens' is in
handlers/admin/callbacks.py). Fields are typed, but still re-checked on arrival:
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
