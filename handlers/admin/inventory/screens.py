"""What the reconciliation screens share: their buttons' data and the Back (and Apply) row."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.admin.callbacks import ReconcileAction as RA
from handlers.admin.callbacks import ReconcileCallback


def button_data(action: RA, id_: int = 0) -> str:
    return ReconcileCallback(action=action, id=id_).pack()


def back_markup(with_apply: bool = False) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if with_apply:
        kb.button(text=_("Apply"), callback_data=button_data(RA.ASK_APPLY))
    kb.button(text=_("« Back"), callback_data=button_data(RA.HOME))
    kb.adjust(1)
    return kb.as_markup()
