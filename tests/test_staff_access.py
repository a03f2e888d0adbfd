"""Who may use the staff screens: every command, button and typed step of them, pressed by
someone without the role, is refused with its section's words and put on record."""

from __future__ import annotations

import itertools
from enum import Enum

import pytest
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from sqlalchemy import select

from core.enums import Role
from database.models import ErrorRecord
from handlers.admin import callbacks, states
from handlers.admin.states import Counting
from tests.conftest import ADMIN_TG_ID, World
from tests.factories import person
from tests.support.client import TelegramClient, reference_in, strip_reference
from tests.support.recording import FIXED_DATE

OUTSIDER, SUPPORT = 77, 78
RECOVERY = "This menu is for admins and support."
RECONCILE = "Only admins and support can use inventory reconciliation."
RECONCILE_CHANGE = "Only admins can change inventory. Support can only look."
NOTIFICATIONS = "Only admins and support can manage notifications."
DISCARD = "Only admins can discard notifications."
STALE = "This button is no longer active. Start again from the menu: /help"
REFUSER = "handlers.admin.refusals.refuse"  # the error record's "where" of a refusal

RECOVERY_BUTTONS = [
    "wr:home",
    "wr:nothing",
    "ws:0:-1:-1",
    "wf:-1:-1",
    "wd:1",
    "wa:nudge:1:1",
    "wt:1:1:1",
    "wy:1:0",
    "wc:1:1",
    "wb:nudge:-1:-1",
    "wj:1",
    "we:d",
    "wed:1",
    "wer:1",
    "cy:made-up-token:0",
    "wl:0:0:0",
    "wlf:actor",
]


async def pressed(client: TelegramClient, data: str) -> tuple[str | None, bool | None]:
    await client.send("/language")
    await client.press(client.find_button_message("English"), data)
    [answer] = client.callback_answers()
    assert client.replies() == []  # the menu message stays as it was
    return answer.text, answer.show_alert


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        *((data, RECOVERY) for data in RECOVERY_BUTTONS),
        ("rc:h:0", RECONCILE),
        ("rc:p:0", RECONCILE),
        ("rc:f:0", RECONCILE),
        ("rc:hi:0", RECONCILE),
        ("rc:a:0", RECONCILE_CHANGE),
        ("rc:c:1", RECONCILE_CHANGE),
        ("rc:s:0", RECONCILE_CHANGE),
        ("rc:r:0", RECONCILE_CHANGE),
        ("nq:h::0:0:0:0:0", NOTIFICATIONS),
        ("nq:l:dead:0:0:0:0:0", NOTIFICATIONS),
        ("nq:r:dead:0:1:0:0:0", NOTIFICATIONS),
        ("nq:rt:dead:0:1:0:0:0", NOTIFICATIONS),
        ("nq:bra:dead:0:0:0:0:0", NOTIFICATIONS),
        ("nq:da:dead:0:1:0:0:0", DISCARD),
        ("nq:bda:dead:0:0:0:0:0", DISCARD),
    ],
)
async def test_buttons_refuse_outsiders(world: World, data: str, expected: str) -> None:
    outsider = world.client(OUTSIDER)
    text, alert = await pressed(outsider, data)
    assert alert is True
    assert strip_reference(text) == expected
    assert reference_in(text) is not None
    async with world.app.sessionmaker() as session:
        records = list(await session.scalars(select(ErrorRecord)))
    assert [r.message for r in records] == [expected]  # the attempt is on record


@pytest.mark.parametrize(
    "data",
    [
        "wz:1",
        "ws:x",
        "rc:zz:0",
        "nq:zz:dead:0:0:0:0:0",
        # The "Yes" buttons before confirmations were stored: they carried no record's id.
        "rc:y:0",
        "wrn:1:0",
        "nq:br:dead:0:0:9:1:0",
        "nq:d:dead:0:1:0:0:0",
        "nq:dt:dead:0:1:0:0:0",
        "nq:bd:dead:0:0:9:1:0",
    ],
)
async def test_unknown_buttons_are_stale_for_everyone(world: World, data: str) -> None:
    await world.app.users.ensure_admins()
    for who in (OUTSIDER, ADMIN_TG_ID):
        text, alert = await pressed(world.client(who), data)
        assert (text, alert) == (STALE, True)


async def test_support_is_refused_what_needs_an_admin(world: World) -> None:
    await person(world, SUPPORT, Role.SUPPORT)
    support = world.client(SUPPORT)
    await support.send("/health")
    assert strip_reference(support.last_reply()) == "Only admins can see system health."
    for data, expected in [("rc:a:0", RECONCILE_CHANGE), ("nq:bda:dead:0:0:0:0:0", DISCARD)]:
        text, alert = await pressed(support, data)
        assert (strip_reference(text), alert) == (expected, True)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/workflow_recovery", RECOVERY),
        ("/reconcile", RECONCILE),
        ("/notifications", NOTIFICATIONS),
        ("/error E-ABC234", "Only admins and support can look up errors."),
        ("/health", "Only admins can see system health."),
    ],
)
async def test_commands_refuse_outsiders(world: World, command: str, expected: str) -> None:
    outsider = world.client(OUTSIDER)
    await outsider.send(command)
    [reply] = outsider.replies()
    assert strip_reference(reply) == expected
    assert reference_in(reply) is not None


async def in_state(world: World, user_id: int, state: State) -> None:
    context = world.dp.fsm.get_context(world.bot, chat_id=user_id, user_id=user_id)
    await context.set_state(state)


# -- every staff button and state, as callbacks.py and states.py define them --------------

STAFF_BUTTONS = [
    cls
    for cls in vars(callbacks).values()
    if isinstance(cls, type) and issubclass(cls, CallbackData) and cls is not CallbackData
]
STATE_GROUPS = [
    group
    for group in vars(states).values()
    if isinstance(group, type) and issubclass(group, StatesGroup) and group is not StatesGroup
]
# A text in a staff conversation, by its group: the menu's words, or the admin-only ones.
REFUSAL_OF_GROUP = {
    "Recovery": RECOVERY,
    "Counting": RECONCILE_CHANGE,
    "DiscardingNotifications": DISCARD,
}


def sample_values(annotation: object) -> list[object]:
    """Every value of an enum field, one plausible value of any other."""
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return list(annotation)
    samples: dict[object, object] = {int: 1, str: "x", bool: True}
    return [samples[annotation]]


def every_staff_press() -> list[tuple[str, str]]:
    """(packed callback data, the refusal an outsider reads) for every staff CallbackData
    class, through every value of its enum fields."""
    presses = []
    for cls in STAFF_BUTTONS:
        names = list(cls.model_fields)
        fields = [sample_values(f.annotation) for f in cls.model_fields.values()]
        for values in itertools.product(*fields):
            data = cls(**dict(zip(names, values, strict=True)))
            action = str(getattr(data, "action", ""))
            if cls.__prefix__ == "rc":
                expected = RECONCILE_CHANGE if action in {"a", "c", "s", "r"} else RECONCILE
            elif cls.__prefix__ == "nq":
                expected = DISCARD if action in {"da", "bda"} else NOTIFICATIONS
            else:
                expected = RECOVERY
            presses.append((data.pack(), expected))
    return presses


async def test_a_press_of_every_staff_button_is_refused(world: World) -> None:
    assert len(STAFF_BUTTONS) >= 18
    presses = every_staff_press()
    outsider = world.client(OUTSIDER)
    for data, expected in presses:
        text, alert = await pressed(outsider, data)  # the menu message stays as it was
        assert (strip_reference(text), alert) == (expected, True), data
        assert reference_in(text) is not None
    async with world.app.sessionmaker() as session:
        records = list(await session.scalars(select(ErrorRecord)))
    # Only the refusal ran: no staff handler answered, or refused, any of them.
    assert {(r.handler, r.message) for r in records} == {
        (REFUSER, text) for _data, text in presses
    }
    assert sum(r.count for r in records) == len(presses)


def test_every_staff_state_group_has_its_refusal() -> None:
    assert {group.__name__ for group in STATE_GROUPS} == set(REFUSAL_OF_GROUP)


@pytest.mark.parametrize(
    "state",
    [state for group in STATE_GROUPS for state in group.__all_states__],
    ids=lambda state: str(state.state),
)
async def test_typed_steps_refuse_whoever_lost_the_role(world: World, state: State) -> None:
    expected = REFUSAL_OF_GROUP[str(state.group.__name__)]
    await person(world, OUTSIDER, Role.REQUESTER)  # say, support was taken away meanwhile
    outsider = world.client(OUTSIDER)
    await in_state(world, OUTSIDER, state)
    await outsider.send("42")
    assert strip_reference(outsider.last_reply()) == expected
    async with world.app.sessionmaker() as session:
        [record] = await session.scalars(select(ErrorRecord))
    assert (record.handler, record.message) == (REFUSER, expected)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (Counting.entering_sku, "Please send text, or /cancel."),
        (states.Recovery.reason, "I did not understand that. Send /help to see what I can do."),
    ],
)
async def test_a_step_that_wants_text_says_so_whoever_sends_something_else(
    world: World, state: State, expected: str
) -> None:
    outsider = world.client(OUTSIDER)
    await outsider.send("/start")
    await in_state(world, OUTSIDER, state)
    await outsider.feed(
        {
            "update_id": 990_001,
            "message": {
                "message_id": 990_001,
                "date": FIXED_DATE,
                "chat": {"id": OUTSIDER, "type": "private"},
                "from": {"id": OUTSIDER, "is_bot": False, "first_name": "Ann"},
                "location": {"latitude": 1.0, "longitude": 2.0},
            },
        }
    )
    assert outsider.replies() == [expected]
