"""Forged callback data: every field of every button, out of its range, is "no longer active".

A modified Telegram client sends whatever bytes it likes as a button's data. Each CallbackData
class of handlers/callbacks.py and handlers/admin/callbacks.py is pressed with every one of its
fields forged (20 digits, 2^31, 0 for an id, -2, not a number, an unknown or overlong word), by
an employee and by an admin, through the real Dispatcher, on SQLite and PostgreSQL: the answer
is the stale-button alert, nothing else is said, and no error is recorded. And every button the
bot makes, at its fields' extreme valid values, packs within 64 bytes and parses back."""

from __future__ import annotations

import secrets
import typing
from enum import Enum

import pytest
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from aiogram.types import Message
from annotated_types import Ge, Le
from pydantic.fields import FieldInfo
from sqlalchemy import func, select

from core.enums import NotificationStatus, Role
from core.settings import SUPPORTED_LOCALES
from database.models import ErrorOccurrence, ErrorRecord
from handlers import callbacks as requester_callbacks
from handlers.admin import callbacks as staff_callbacks
from handlers.admin.callbacks import MenuSection
from handlers.states import NewRequest
from services.confirmations import MAX_TOKEN, TOKEN_BYTES
from tests.conftest import ADMIN_TG_ID, World
from tests.factories import person, stock
from tests.support.client import TelegramClient

EMPLOYEE = 101
STALE = "This button is no longer active. Start again from the menu: /help"


def button_classes() -> dict[str, type[CallbackData]]:
    """Every CallbackData class of both modules, by prefix."""
    found: dict[str, type[CallbackData]] = {}
    for module in (requester_callbacks, staff_callbacks):
        for name in dir(module):
            cls = getattr(module, name)
            if isinstance(cls, type) and issubclass(cls, CallbackData) and cls is not CallbackData:
                found[cls.__prefix__] = cls
    return found


CLASSES = button_classes()

# A valid value for each plain text field, by name (a new one must be added here).
WORDS = {
    "code": "en",
    "section": "home",
    "period": "d",
    "kind": "actor",
    "status": "dead",
    "token": "made-up-token",
}
# Database ids and versions start at 1: 0 is forged there (elsewhere 0 means "none", "all" or
# the first page).
STARTS_AT_ONE = {"item_id", "request_id", "version", "user_id", "job_id", "record_id"}
NUMBERS = ["99999999999999999999", str(2**31), "-2", "x", "1_0", "+1", "١", "１", ""]
WORDS_FORGED = ["a" * 40, "<b>", "ré"]


def kind_of(field: FieldInfo) -> type:
    annotation = field.annotation
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    assert isinstance(annotation, type), annotation
    return annotation


def valid_part(name: str, field: FieldInfo) -> str:
    kind = kind_of(field)
    if issubclass(kind, Enum):
        return str(next(iter(kind)).value)
    if kind is bool:
        return "1"
    if kind is str:
        assert name in WORDS, f"add a valid sample for the text field {name!r}"
        return WORDS[name]
    return "1"


def forged_parts(name: str, field: FieldInfo) -> list[str]:
    kind = kind_of(field)
    if issubclass(kind, Enum):
        return ["zz", "a" * 40]
    if kind is bool:
        return ["2", "x"]
    if kind is str:
        return WORDS_FORGED
    # aiogram reads an empty part as the field's default, when it has one: not a forgery.
    numbers = NUMBERS if field.is_required() else [n for n in NUMBERS if n]
    return numbers + (["0"] if name in STARTS_AT_ONE else [])


def forgeries(cls: type[CallbackData]) -> list[str]:
    """The class's data with one field at a time replaced by each forged value."""
    fields = list(cls.model_fields.items())
    valid = [valid_part(name, field) for name, field in fields]
    out = []
    for index, (name, field) in enumerate(fields):
        for forged in forged_parts(name, field):
            parts = [*valid[:index], forged, *valid[index + 1 :]]
            out.append(":".join([cls.__prefix__, *parts]))
    return out


async def set_state(world: World, client: TelegramClient) -> None:
    """Put the person in the step where the item buttons are answered (their handlers filter
    on it), so that a forged item button reaches its handler."""
    key = StorageKey(bot_id=world.bot.id, chat_id=client.user_id, user_id=client.user_id)
    await FSMContext(world.dp.storage, key).set_state(NewRequest.choosing_item)


def newest_message(client: TelegramClient) -> Message:
    """The item list /new_request showed, whatever its buttons say."""
    mine = [m for (chat, _), m in client.session.messages.items() if chat == client.user_id]
    return mine[-1]


async def count(world: World, model: type) -> int:
    async with world.app.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def test_every_class_is_forged() -> None:
    assert {"mr", "it", "nq", "cy", "wt"} <= set(CLASSES)  # both modules are read
    for prefix, cls in CLASSES.items():
        assert forgeries(cls), prefix


@pytest.mark.parametrize("prefix", sorted(CLASSES))
async def test_forged_fields_are_stale_and_not_recorded(world: World, prefix: str) -> None:
    await stock(world, ("P-1", "Paper", 10))
    await person(world, EMPLOYEE, Role.REQUESTER)
    await world.app.users.ensure_admins()
    for who in (EMPLOYEE, ADMIN_TG_ID):
        client = world.client(who)
        await client.send("/new_request")
        menu = newest_message(client)
        for data in forgeries(CLASSES[prefix]):
            await set_state(world, client)
            await client.press(menu, data)
            answers = [(a.text, a.show_alert) for a in client.callback_answers()]
            assert answers == [(STALE, True)], (who, data)
            assert client.replies() == [], (who, data)
    assert await count(world, ErrorRecord) == 0
    assert await count(world, ErrorOccurrence) == 0


def bounds(field: FieldInfo) -> tuple[int, int]:
    low = next(m.ge for m in field.metadata if isinstance(m, Ge))
    high = next(m.le for m in field.metadata if isinstance(m, Le))
    return int(low), int(high)  # type: ignore[call-overload]


def test_every_number_is_bounded_within_a_database_integer() -> None:
    for prefix, cls in CLASSES.items():
        for name, field in cls.model_fields.items():
            if kind_of(field) is int:
                low, high = bounds(field)
                assert -1 <= low <= high <= 2**31 - 1, (prefix, name)
                if name in STARTS_AT_ONE:
                    assert low == 1, (prefix, name)


# The longest valid text of each text field, as the bot makes it.
LONGEST_WORDS = {
    "code": max(SUPPORTED_LOCALES, key=len),
    "section": max((s.value for s in MenuSection), key=len),
    "period": "w",
    "kind": "request",
    "status": max((s.value for s in NotificationStatus), key=len),
    "token": secrets.token_urlsafe(TOKEN_BYTES),
}


def extreme(cls: type[CallbackData], end: int) -> CallbackData:
    """The class with every field at its lowest (end 0) or highest (end 1) valid value."""
    values: dict[str, object] = {}
    for name, field in cls.model_fields.items():
        kind = kind_of(field)
        if issubclass(kind, Enum):
            members = sorted(kind, key=lambda m: len(str(m.value)))
            values[name] = members[-1] if end else members[0]
        elif kind is bool:
            values[name] = bool(end)
        elif kind is str:
            values[name] = LONGEST_WORDS[name] if end else WORDS[name][:1]
        else:
            values[name] = bounds(field)[end]
    return cls(**values)


@pytest.mark.parametrize("prefix", sorted(CLASSES))
@pytest.mark.parametrize("end", [0, 1])
def test_buttons_at_their_extremes_round_trip(prefix: str, end: int) -> None:
    cls = CLASSES[prefix]
    data = extreme(cls, end)
    packed = data.pack()  # raises beyond Telegram's 64 bytes
    assert len(packed.encode()) <= 64
    assert cls.unpack(packed) == data


def test_the_longest_confirmation_token_parses() -> None:
    token = "A" * MAX_TOKEN
    yes = staff_callbacks.ConfirmYes(token=token, pick=staff_callbacks.TYPE_OWN)
    assert staff_callbacks.ConfirmYes.unpack(yes.pack()) == yes
