"""Every text the bot sends fits Telegram, filled with the longest data it accepts, in each
language: a session that refuses what Telegram refuses (a text over 4,096 characters, an alert
over 200, button data over 64 bytes) stands in for Telegram."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from html import escape
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.storage.base import StorageKey
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.factory import create_app, create_bot, create_dispatcher
from core.clock import FrozenClock
from core.enums import (
    DiscrepancyKind,
    ErrorCategory,
    ErrorSeverity,
    HealthComponent,
    HealthStatus,
    NotificationStatus,
    RecoveryAction,
    RequestStatus,
    Role,
)
from core.fitting import ALERT_LIMIT, DATA_LIMIT, MESSAGE_LIMIT, more_line, size
from core.i18n import create_i18n
from core.settings import SUPPORTED_LOCALES, Settings
from core.workflows import load_workflows
from database.models import InventoryItem, PendingNotification, Request, User
from handlers.callbacks import ItemPick
from handlers.keyboards import decision_keyboard
from outbox.payloads import (
    ApprovalNeeded,
    ErrorAlert,
    HealthChanged,
    HealthRecovered,
    ItemLine,
    NotificationKind,
    Payload,
    ReconciliationAlert,
    RecoveryApplied,
    RequestAdvanced,
    RequestCompleted,
    RequestRejected,
    StuckEscalation,
    StuckNudge,
)
from outbox.render import Renderer
from services.failures.classify import FailureContext
from services.inventory import ImportRow
from services.recovery.actions import MAX_REASON as MAX_RECOVERY_REASON
from services.requests import MAX_LINES, MAX_REASON_LENGTH, Line
from tests.conftest import ADMIN_TG_ID, World
from tests.factories import person
from tests.support.client import TelegramClient
from tests.support.recording import RecordingSession

# The longest values the bot takes in: an item name of 256 characters (services/inventory.py)
# that escapes to far more, a unit of 16, a person's name of 64 + 64 (Telegram's limits).
NASTY = 'Tornillo & tuerca <M8> "inox" 1/4\' — '


def long_name(n: int) -> str:
    return (f"{n:02} " + NASTY * 10)[:256]


LONG_PERSON = ("Ana-María & <Co> " * 8)[:129]
LONG_REASON = ('"<&>" ' * 200)[:MAX_REASON_LENGTH]  # 1,000 characters, 5,000 escaped


class TelegramLimits(RecordingSession):
    """Refuses what Telegram refuses, and remembers what it refused."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[str] = []

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        problem = over_limit(method)
        if problem:
            self.calls.append(method)
            self.refused.append(problem)
            raise TelegramBadRequest(method=method, message=f"Bad Request: {problem}")
        return await super().make_request(bot, method, timeout)


def over_limit(method: TelegramMethod[Any]) -> str | None:
    if isinstance(method, SendMessage | EditMessageText):
        if size(method.text) > MESSAGE_LIMIT:
            return f"message is too long ({size(method.text)})"
        markup = method.reply_markup
        if isinstance(markup, InlineKeyboardMarkup):
            for row in markup.inline_keyboard:
                for button in row:
                    data = button.callback_data or ""
                    if len(data.encode()) > DATA_LIMIT:
                        return f"BUTTON_DATA_INVALID ({data!r})"
    if isinstance(method, AnswerCallbackQuery) and size(method.text or "") > ALERT_LIMIT:
        return f"MESSAGE_TOO_LONG (alert of {size(method.text or '')})"
    return None


@pytest.fixture
async def strict(
    settings: Settings, engine: AsyncEngine, clock: FrozenClock
) -> AsyncIterator[World]:
    session = TelegramLimits()
    bot = create_bot(settings, session=session)
    app = create_app(settings, bot, clock=clock, engine=engine, monotonic=time.monotonic)
    world = World(app=app, bot=bot, dp=create_dispatcher(app), session=session)
    yield world
    await world.app.healer.shutdown()
    await world.app.bulk.shutdown()
    await world.dp.storage.close()


def refused(world: World) -> list[str]:
    session = world.session
    assert isinstance(session, TelegramLimits)
    return session.refused


@pytest.fixture
def tr_in(strict: World) -> Iterator[Any]:
    def make(language: str) -> Any:
        def tr(message: str, **params: object) -> str:
            with strict.app.i18n.context(), strict.app.i18n.use_locale(language):
                return _(message).format(**params) if params else _(message)

        return tr

    yield make


def tr_stage(world: World, index: int, language: str) -> str:
    return world.app.workflows.default.stages[index].display(language)


async def long_items(world: World, count: int = MAX_LINES) -> list[int]:
    await world.app.inventory.import_rows(
        [ImportRow(i + 2, f"SKU-{i:02}", long_name(i), "p" * 16, 10_000) for i in range(count)]
    )
    items, _total = await world.app.inventory.page(0, 100)
    return [item.id for item in items]


async def draft(client: TelegramClient, tr: Any, item_ids: list[int]) -> None:
    """Pick each item, one of each, through the screens."""
    await client.send("/new_request")
    for index, item_id in enumerate(item_ids):
        if index:
            await client.click(tr("Add another item"))
        await client.press(
            client.find_button_message(tr("Cancel")), ItemPick(item_id=item_id).pack()
        )
        await client.send("1")
        assert client.last_reply().startswith(tr("Your request so far:"))


@pytest.mark.parametrize("language", SUPPORTED_LOCALES)
async def test_a_request_of_the_longest_lines_is_seen_decided_and_listed(
    strict: World, tr_in: Any, language: str
) -> None:
    tr = tr_in(language)
    world = strict
    item_ids = await long_items(world)
    await person(world, 201, Role.MANAGER)
    manager = world.client(201, LONG_PERSON, language_code=language)
    await manager.send("/start")
    ann = world.client(101, LONG_PERSON, language_code=language)

    await draft(ann, tr, item_ids)  # MAX_LINES lines: the draft keeps its Submit button
    assert tr("Submit request") in ann.buttons()
    await ann.click(tr("Submit request"))
    stage = tr_stage(world, 0, language)
    submitted = tr(
        "Request #{request_id} is submitted. It is now at {stage}, with {assignee}.",
        request_id=1,
        stage=stage,
        assignee=escape(LONG_PERSON),
    )
    assert ann.last_reply().endswith(submitted)  # not "Something went wrong"
    assert refused(world) == []

    await world.deliver()  # the approver is told
    async with world.app.sessionmaker() as session:
        statuses = (await session.scalars(select(PendingNotification.status))).all()
    assert statuses == [NotificationStatus.SENT]
    told = manager.inbox()[-1]
    assert "#1" in told and tr("Approve") in manager.buttons()
    await manager.click(tr("Approve"))
    decided = manager.last_reply()
    assert decided.endswith(
        "✅ "
        + tr(
            "Approved. Request #{request_id} moved to {stage}.",
            request_id=1,
            stage=tr_stage(world, 1, language),
        )
    )

    # More requests of the same lines, then the list: one page that fits
    async with world.app.sessionmaker() as session:
        ann_id = (await session.scalars(select(Request.requester_id))).first()
    assert ann_id is not None
    for _n in range(6):
        await world.app.requests.create(ann_id, [Line(i, 7) for i in item_ids])
    await ann.send("/my_requests")
    page = ann.last_reply()
    assert page.startswith(tr("Your requests (page {page} of {pages}):", page=1, pages=2))
    assert [f"#{n} — " in page for n in (7, 6, 5, 4, 3)] == [True] * 5
    await ann.click(tr("Next") + " »")
    assert ann.last_reply().startswith(
        tr("Your requests (page {page} of {pages}):", page=2, pages=2)
    )
    assert refused(world) == []


@pytest.mark.parametrize("language", SUPPORTED_LOCALES)
async def test_a_rejection_with_the_longest_reason_reaches_both_people(
    strict: World, language: str
) -> None:
    world = strict
    item_ids = await long_items(world)
    await person(world, 201, Role.MANAGER)
    manager = world.client(201, LONG_PERSON, language_code=language)
    await manager.send("/start")
    ann = world.client(101, LONG_PERSON, language_code=language)
    await ann.send("/start")
    async with world.app.sessionmaker() as session:
        ann_id = (await session.scalars(select(User.id).where(User.telegram_id == 101))).one()
    await world.app.requests.create(ann_id, [Line(i, 1) for i in item_ids])
    await world.deliver()
    await manager.press(manager.find_button_message(manager.buttons()[1]), reject_data(manager))
    await manager.send(LONG_REASON)
    assert "#1" in manager.last_reply()
    await world.deliver()
    assert "#1" in ann.inbox()[-1]
    async with world.app.sessionmaker() as session:
        statuses = (await session.scalars(select(PendingNotification.status))).all()
    assert set(statuses) == {NotificationStatus.SENT}
    assert refused(world) == []


def reject_data(client: TelegramClient) -> str:
    message = client.find_button_message(client.buttons()[1])
    markup = message.reply_markup
    assert isinstance(markup, InlineKeyboardMarkup)
    return str(markup.inline_keyboard[0][1].callback_data)


def longest_payloads() -> list[Payload]:
    """One payload of every kind, each field at the longest it is ever written."""
    name, person_name = long_name(0), LONG_PERSON
    reason = LONG_REASON[:MAX_RECOVERY_REASON]
    items = tuple(ItemLine(long_name(n), 99_999, "p" * 16) for n in range(MAX_LINES))
    return [
        ApprovalNeeded(
            2**31 - 1, 2**31 - 1, "inventory_request", "manager_approval", person_name, items, True
        ),
        RequestAdvanced(2**31 - 1, "inventory_request", "warehouse_issue", person_name),
        RequestAdvanced(2**31 - 1, "inventory_request", "warehouse_issue", None),
        RequestCompleted(2**31 - 1, "inventory_request", True),
        RequestRejected(
            2**31 - 1, "inventory_request", "manager_approval", LONG_REASON, person_name
        ),
        StuckNudge(2**31 - 1, 2**31 - 1, "inventory_request", name, 99_999, person_name, False),
        StuckEscalation(
            2**31 - 1, 2**31 - 1, "inventory_request", name, 99_999, person_name, False
        ),
        StuckEscalation(2**31 - 1, 2**31 - 1, "inventory_request", name, 99_999, None, True),
        RecoveryApplied(
            2**31 - 1,
            RecoveryAction.FORCE_TRANSITION,
            "inventory_request",
            name,
            RequestStatus.ACTIVE,
            reason,
            person_name,
        ),
        HealthChanged(HealthStatus.UNHEALTHY, HealthStatus.HEALTHY, tuple(HealthComponent)),
        HealthRecovered(HealthStatus.HEALTHY, HealthStatus.UNHEALTHY, ()),
        ErrorAlert(
            "E-ABCDEF",
            ErrorCategory.SYSTEM,
            ErrorSeverity.CRITICAL,
            2**31 - 1,
            "<h>" * 66,
            "&Error" * 33,
        ),
        ReconciliationAlert(
            2**31 - 1,
            DiscrepancyKind.ORPHAN_CLOSED_REQUEST,
            "<&>" * 21,
            -(2**31),
            2**31 - 1,
            2**31 - 1,
        ),
    ]


@pytest.mark.parametrize("language", SUPPORTED_LOCALES)
def test_every_notification_kind_at_its_longest_fits(settings: Settings, language: str) -> None:
    renderer = Renderer(
        create_i18n("en"), load_workflows(settings.workflows_file), decision_keyboard
    )
    payloads = longest_payloads()
    assert {p.kind for p in payloads} == set(NotificationKind)
    recipient = User(telegram_id=1, full_name=LONG_PERSON, language=language)
    approval_text = ""
    for payload in payloads:
        row = PendingNotification(kind=payload.kind.value, payload=payload.to_json())
        row.recipient = recipient
        text, markup = renderer.render(row)
        if payload.kind is NotificationKind.APPROVAL_NEEDED:
            approval_text = text
        method = SendMessage(chat_id=1, text=text, reply_markup=markup)
        assert over_limit(method) is None, payload.kind
        assert f"{2**31 - 1}" in text or payload.kind in {
            NotificationKind.HEALTH_CHANGED,
            NotificationKind.HEALTH_RECOVERED,
            NotificationKind.ERROR_ALERT,
        }
    with renderer.i18n.context(), renderer.i18n.use_locale(language):
        told = [more_line(n) for n in range(1, MAX_LINES) if f"\n{more_line(n)}" in approval_text]
    shown = approval_text.count("\n• ")
    assert shown >= 1 and shown + (int(told[0].split()[2]) if told else 0) == MAX_LINES


@pytest.fixture(autouse=True)
def screens_fit_themselves(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The last-resort cut (bot/fitting.py) must have nothing to do: each screen fits itself."""
    caplog.set_level(logging.WARNING, logger="bot.fitting")
    yield
    cut = [r.getMessage() for r in caplog.get_records("call") if r.name == "bot.fitting"]
    assert cut == []


async def test_a_text_still_too_long_is_cut_before_telegram_sees_it(
    strict: World, caplog: pytest.LogCaptureFixture
) -> None:
    await strict.bot.send_message(1, "<b>" + "&amp;" * 2000 + "</b>")
    await strict.bot.answer_callback_query("q", text="x" * 500, show_alert=True)
    assert refused(strict) == []
    sent = strict.session.calls_of(SendMessage)[-1].text
    assert size(sent) <= MESSAGE_LIMIT and sent.endswith("&amp;…</b>")
    assert strict.session.calls_of(AnswerCallbackQuery)[-1].text == "x" * 199 + "…"
    assert len([r for r in caplog.records if r.name == "bot.fitting"]) == 2
    caplog.clear()


ENTRIES = ("/workflow_recovery", "/reconcile", "/notifications", "/health", "/help", "/start")
MAX_PRESSES = 400  # a round


async def crowded(world: World, clock: FrozenClock) -> None:
    """Everything an admin can look at, each at its longest: stuck requests of the longest
    lines, their history with long reasons, error records, dead notifications with long
    errors, inventory findings of the longest SKUs."""
    await world.app.inventory.import_rows(
        [
            ImportRow(i + 2, (f"{i:02}" + "<&>" * 21)[:64], long_name(i), "&" * 16, 10_000)
            for i in range(MAX_LINES)
        ]
    )
    items, _total = await world.app.inventory.page(0, 100)
    await person(world, 201, Role.MANAGER)
    await person(world, 202, Role.SUPPORT)
    for telegram_id in (101, 201, 202, ADMIN_TG_ID):
        await world.client(telegram_id, LONG_PERSON).send("/start")
    async with world.app.sessionmaker() as session:
        ann_id = (await session.scalars(select(User.id).where(User.telegram_id == 101))).one()
    for _n in range(7):
        await world.app.requests.create(ann_id, [Line(item.id, 3) for item in items])
    await world.deliver()
    clock.advance(timedelta(days=30))  # all of them stuck
    for n in range(12):
        await world.app.recorder.record(
            RuntimeError(LONG_REASON), FailureContext(handler=f"handlers.x{n}" + "<&>" * 60)
        )
    async with world.app.sessionmaker() as session, session.begin():
        await session.execute(
            update(PendingNotification).values(
                status=NotificationStatus.DEAD, last_error=LONG_REASON, attempts=99
            )
        )
        await session.execute(update(InventoryItem).values(stock=InventoryItem.stock + 5))


async def walk(world: World, admin: TelegramClient) -> int:
    """Press every button the admin is shown, once each, typing the longest reason where a
    step asks for text: returns how many presses."""
    key = StorageKey(bot_id=world.bot.id, chat_id=admin.user_id, user_id=admin.user_id)
    frontier: dict[str, Message] = {}  # each button seen, on the message that showed it

    def look() -> None:
        for (chat, _id), message in world.session.messages.items():
            markup = message.reply_markup
            if chat != admin.user_id or not isinstance(markup, InlineKeyboardMarkup):
                continue
            for row in markup.inline_keyboard:
                for button in row:
                    data = button.callback_data
                    if data and data not in pressed and data not in frontier:
                        frontier[data] = message

    pressed: set[str] = set()
    presses = 0
    for _round in range(2):  # again once the first round's actions left their history
        pressed.clear()
        for command in ENTRIES:
            await admin.send(command)
            look()
        presses += await press_all(world, admin, key, frontier, pressed, look)
    return presses


async def press_all(
    world: World,
    admin: TelegramClient,
    key: StorageKey,
    frontier: dict[str, Message],
    pressed: set[str],
    look: Callable[[], None],
) -> int:
    presses = 0
    while frontier and presses < MAX_PRESSES:
        data, message = next(iter(frontier.items()))
        del frontier[data]
        pressed.add(data)
        presses += 1
        await admin.press(message, data)
        for typed in (LONG_REASON, LONG_REASON[:500], "7"):
            if await world.dp.storage.get_state(key) is None:
                break
            await admin.send(typed)
        if await world.dp.storage.get_state(key) is not None:
            await admin.send("/cancel")
        look()
    return presses


@pytest.mark.parametrize("language", SUPPORTED_LOCALES)
async def test_every_staff_screen_at_its_longest_fits(
    strict: World, clock: FrozenClock, language: str
) -> None:
    await crowded(strict, clock)
    admin = strict.client(ADMIN_TG_ID, LONG_PERSON, language_code=language)
    presses = await walk(strict, admin)
    assert 80 < presses < 2 * MAX_PRESSES  # the walk saw the sections and ended by itself
    assert refused(strict) == []
    texts = [
        c.text
        for c in strict.session.calls_of(SendMessage) + strict.session.calls_of(EditMessageText)
    ]
    assert max(size(t) for t in texts) > 2000  # the data was long enough to matter
