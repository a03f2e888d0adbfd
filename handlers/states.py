from aiogram.fsm.state import State, StatesGroup


class NewRequest(StatesGroup):
    choosing_item = State()
    entering_quantity = State()
    reviewing = State()


class Rejecting(StatesGroup):
    entering_reason = State()
