"""Inline keyboards. Labels go through gettext in the caller's current locale; a stored name on a
button is clipped (core/fitting.py) and keeps what follows it, the stock."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.fitting import LABEL_LIMIT, clip
from database.models import InventoryItem
from handlers.callbacks import (
    Decision,
    DecisionCallback,
    DraftAction,
    DraftCallback,
    ItemPage,
    ItemPick,
    LanguageCallback,
    MyRequestsPage,
)

LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "es": "Español"}


def add_pager(
    builder: InlineKeyboardBuilder, page: int, pages: int, factory: Callable[..., CallbackData]
) -> int:
    """Add Previous/Next buttons where there is somewhere to go; returns how many.

    `factory(page=N)` builds the button's callback data (a CallbackData class or a partial)."""
    count = 0
    if page > 0:
        builder.button(text="« " + _("Previous"), callback_data=factory(page=page - 1))
        count += 1
    if page + 1 < pages:
        builder.button(text=_("Next") + " »", callback_data=factory(page=page + 1))
        count += 1
    return count


def items_keyboard(items: Sequence[InventoryItem], page: int, pages: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for item in items:
        builder.button(
            text=f"{clip(item.name, LABEL_LIMIT)} ({item.stock} {item.unit})",
            callback_data=ItemPick(item_id=item.id),
        )
    sizes = [1] * len(items)
    nav = add_pager(builder, page, pages, ItemPage)
    builder.button(text=_("Cancel"), callback_data=DraftCallback(action=DraftAction.CANCEL))
    builder.adjust(*sizes, *([nav] if nav else []), 1)
    return builder.as_markup()


def draft_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Add another item"), callback_data=DraftCallback(action=DraftAction.ADD))
    builder.button(
        text=_("Submit request"), callback_data=DraftCallback(action=DraftAction.CONFIRM)
    )
    builder.button(text=_("Cancel"), callback_data=DraftCallback(action=DraftAction.CANCEL))
    builder.adjust(1, 2)
    return builder.as_markup()


def decision_keyboard(request_id: int, version: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("Approve"),
        callback_data=DecisionCallback(
            action=Decision.APPROVE, request_id=request_id, version=version
        ),
    )
    builder.button(
        text=_("Reject"),
        callback_data=DecisionCallback(
            action=Decision.REJECT, request_id=request_id, version=version
        ),
    )
    return builder.as_markup()


def language_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code, name in LANGUAGE_NAMES.items():
        builder.button(text=name, callback_data=LanguageCallback(code=code))
    builder.adjust(3)
    return builder.as_markup()


def my_requests_keyboard(page: int, pages: int) -> InlineKeyboardMarkup | None:
    builder = InlineKeyboardBuilder()
    return builder.as_markup() if add_pager(builder, page, pages, MyRequestsPage) else None
