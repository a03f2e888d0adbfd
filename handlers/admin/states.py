"""Conversation states of the staff screens."""

from aiogram.fsm.state import State, StatesGroup


class Recovery(StatesGroup):
    reason = State()  # typing a reason for a pending recovery action
    note = State()  # typing a resolution note for an error
    log_request = State()  # typing a request number to filter the recovery log


class Counting(StatesGroup):
    entering_sku = State()
    entering_quantity = State()
    entering_reason = State()


class DiscardingNotifications(StatesGroup):
    entering_reason = State()
