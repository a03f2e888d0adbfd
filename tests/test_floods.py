"""Refusals and floods are not incidents (issue 27).

A stranger's refused commands are audited but count in no health figure and page nobody; one
person's flood is answered once and then dropped before any database work; what one person can
make the bot store is bounded while what it counts is not, so a real storm still turns
critical. Through the real Dispatcher, on SQLite and PostgreSQL, on one injectable clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiogram.methods import AnswerCallbackQuery, SendMessage
from aiogram.utils.i18n import ngettext
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.clock import FrozenClock
from core.enums import ErrorCategory, ErrorSeverity, HealthComponent, HealthStatus, Role
from core.settings import Settings, ThrottleSettings, load_settings
from database.models import ErrorOccurrence, ErrorRecord, PendingNotification
from services.health import checks
from tests.conftest import ADMIN_TG_ID, World, make_world
from tests.factories import person
from tests.support.client import TelegramClient, reference_in, strip_reference
from tests.test_health import add_errors

STRANGER = 666
REFUSED = "This menu is for admins and support."
NOTICE = (
    "You are sending a lot at once. I will not answer for {seconds} second; "
    "then please try again.",
    "You are sending a lot at once. I will not answer for {seconds} seconds; "
    "then please try again.",
)


def fails() -> Callable[..., Any]:
    async def raiser(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("bug")  # a new one each time: a re-raised one grows its traceback

    return raiser


async def rows(world: World, model: type) -> list[Any]:
    async with world.app.sessionmaker() as session:
        result = await session.execute(select(model).order_by(model.id))
        return list(result.unique().scalars())


def metric(world: World, name: str, **labels: str) -> float:
    value = world.app.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


class Statements:
    """Counts the SQL statements the engine runs (both engines: the sync core underneath)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1


@pytest.fixture
async def tied(
    settings: Settings, engine: AsyncEngine, clock: FrozenClock
) -> AsyncIterator[Callable[[Settings], World]]:
    """Worlds whose monotonic clock is the test's clock: the throttle, the storm window and
    the occurrence cap all see the same time."""
    made: list[World] = []

    def build(custom: Settings = settings) -> World:
        world = make_world(custom, engine, clock, monotonic=lambda: clock.now().timestamp())
        made.append(world)
        return world

    yield build
    for world in made:
        await world.app.healer.shutdown()
        await world.app.bulk.shutdown()
        await world.dp.storage.close()


def throttled(settings: Settings, **changes: Any) -> Settings:
    """The settings with the flood control as shipped (conftest lifts it for story tests)."""
    return settings.model_copy(update={"throttle": ThrottleSettings(**changes)})


# -- refusals are audited, not incidents -----------------------------------------------------


async def test_a_strangers_sixty_refusals_are_audited_and_page_nobody(
    tied: Callable[..., World], clock: FrozenClock
) -> None:
    world = tied()  # flood control lifted: every refusal reaches the refusal rule
    await world.app.users.ensure_admins()
    before = await world.app.health.snapshot()
    assert before.status is HealthStatus.HEALTHY

    stranger = world.client(STRANGER, "Mallory")
    references = []
    for _ in range(60):  # 60 in 45 s, as in the issue
        await stranger.send("/workflow_recovery")
        assert strip_reference(stranger.last_reply()) == REFUSED
        references.append(reference_in(stranger.last_reply()))
        clock.advance(timedelta(seconds=0.75))

    report = await world.app.health.check()
    errors = report.get(HealthComponent.ERRORS)
    cap = world.app.settings.error.occurrences_per_minute
    assert (errors.status, errors.value, errors.details["breakdown"]) == (
        HealthStatus.HEALTHY,
        0,
        [],
    )
    # Shown apart, never graded; every one counted although only `cap` rows were stored.
    assert errors.details["refusals"] == 60
    assert len(await rows(world, ErrorOccurrence)) == cap
    assert report.status is HealthStatus.HEALTHY
    after = await world.app.health.snapshot()
    assert (after.status, after.alerted) == (HealthStatus.HEALTHY, 0)
    # No alert of any kind is queued, and nothing reaches the admin's chat.
    assert await rows(world, PendingNotification) == []
    assert await world.deliver() == 0
    assert world.client(ADMIN_TG_ID).inbox() == []
    # Not in the error metrics (and so not in the BotErrorStorm rule); counted as refusals.
    assert metric(world, "bot_refusals_total") == 60
    errors_total = sum(
        s.value
        for m in world.app.metrics.registry.collect()
        if m.name == "bot_errors"
        for s in m.samples
        if s.name == "bot_errors_total"
    )
    assert errors_total == 0

    # Audited: one record with the full count, who tried, and their occurrence rows.
    [record] = await rows(world, ErrorRecord)
    assert (record.category, record.severity, record.count) == (
        ErrorCategory.BUSINESS_LOGIC,
        ErrorSeverity.MEDIUM,
        60,
    )
    assert record.alerted_at is None
    assert record.context["user_id"] == STRANGER
    occurrences = await rows(world, ErrorOccurrence)
    assert 1 <= len(occurrences) <= cap
    assert {o.context["user_id"] for o in occurrences} == {STRANGER}
    # Every code the stranger was shown leads an admin to that record.
    for reference in set(references):
        assert reference is not None
        found = await world.app.errors.find(reference)
        assert found is not None and found.id == record.id
    admin = world.client(ADMIN_TG_ID)
    await admin.send(f"/error {references[-1]}")
    assert admin.last_reply().splitlines()[0] == (
        f"Error {record.reference}: business logic, severity medium"
    )


async def test_health_grades_errors_but_not_refusals(
    tied: Callable[..., World], settings: Settings, clock: FrozenClock
) -> None:
    world = tied()
    health = settings.health.model_copy(update={"errors_per_hour": (2.0, 3.0)})
    now = clock.now()
    for category, severity in [
        (ErrorCategory.BUSINESS_LOGIC, ErrorSeverity.MEDIUM),  # a refusal
        (ErrorCategory.BUSINESS_LOGIC, ErrorSeverity.LOW),  # a stale press
        (ErrorCategory.BUSINESS_LOGIC, ErrorSeverity.HIGH),  # a job's: an incident
        (ErrorCategory.SYSTEM, ErrorSeverity.HIGH),
    ]:
        await add_errors(world, category, severity, 3, timedelta(0))
    component = await checks.check_errors(world.app.sessionmaker, health, now)
    assert (component.status, component.value, component.details["refusals"]) == (
        HealthStatus.UNHEALTHY,
        6,
        6,
    )
    assert sorted((r["category"], r["severity"]) for r in component.details["breakdown"]) == [
        ("business_logic", "high"),
        ("system", "high"),
    ]


# -- what one person can store is bounded, never what is counted ------------------------------


async def test_a_hundred_failures_from_one_person_count_all_and_store_the_cap(
    tied: Callable[..., World], clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = tied()
    await world.app.users.ensure_admins()
    monkeypatch.setattr(world.app.requests, "for_requester", fails())
    cap = world.app.settings.error.occurrences_per_minute
    ann = world.client(1)
    shown = []
    for _ in range(100):  # 100 in 50 s
        await ann.send("/my_requests")
        shown.append(reference_in(ann.last_reply()))
        clock.advance(timedelta(seconds=0.5))

    [record] = await rows(world, ErrorRecord)
    assert record.count == 100
    # A storm too (the same thing 20 times within five minutes): system/high became critical.
    assert record.severity is ErrorSeverity.CRITICAL
    stored = await rows(world, ErrorOccurrence)
    assert len(stored) == cap
    # Health and Error statistics count every failure: the rows carry the ones past the cap.
    assert sum(o.repeats for o in stored) == 100
    errors = (await world.app.health.check()).get(HealthComponent.ERRORS)
    assert (errors.value, errors.details["critical"]) == (100, 100)
    alerts = [n for n in await rows(world, PendingNotification) if n.kind == "error_alert"]
    assert [n.recipient.telegram_id for n in alerts] == [ADMIN_TG_ID]  # once, within the window
    for reference in set(shown):
        assert reference is not None
        found = await world.app.errors.find(reference)
        assert found is not None and found.id == record.id

    # Another person in the same minute has a cap of their own.
    await world.client(2).send("/my_requests")
    # A minute after the first rows, the first person stores again.
    clock.advance(timedelta(seconds=61))
    await ann.send("/my_requests")
    [record] = await rows(world, ErrorRecord)
    assert record.count == 102
    kept = [o.context["user_id"] for o in await rows(world, ErrorOccurrence)]
    assert (kept.count(1), kept.count(2)) == (cap + 1, 1)


@pytest.mark.parametrize(
    ("apart", "severity"),
    [(15, ErrorSeverity.CRITICAL), (16, ErrorSeverity.HIGH)],
    ids=["twenty-within-five-minutes", "twenty-over-five-minutes"],
)
async def test_a_storm_of_twenty_within_five_minutes_is_one_critical_record(
    tied: Callable[..., World],
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
    apart: int,
    severity: ErrorSeverity,
) -> None:
    world = tied()
    await world.app.users.ensure_admins()
    monkeypatch.setattr(world.app.requests, "for_requester", fails())
    ann = world.client(1)
    for n in range(20):  # 15 s apart: the 20th is 285 s after the first; 16 s: 304 s
        if n:
            clock.advance(timedelta(seconds=apart))
        await ann.send("/my_requests")
    [record] = await rows(world, ErrorRecord)
    assert (record.count, record.severity) == (20, severity)
    alerts = [n for n in await rows(world, PendingNotification) if n.kind == "error_alert"]
    assert len(alerts) == (1 if severity is ErrorSeverity.CRITICAL else 0)


# -- one person's flood is answered once, then dropped ----------------------------------------


async def test_one_update_a_second_for_a_minute_is_never_throttled(
    tied: Callable[..., World], settings: Settings, clock: FrozenClock
) -> None:
    world = tied(throttled(settings))
    ann = world.client(1)
    await ann.send("/language")
    menu = ann.find_button_message("English")
    for n in range(60):
        clock.advance(timedelta(seconds=1))
        if n % 2:
            await ann.send("/my_requests")
            assert ann.replies(), f"update {n} was dropped"
        else:
            await ann.press(menu, str(_language_button(menu, "English")))
            [answer] = ann.callback_answers()
            assert not answer.show_alert, f"press {n} was throttled"
    assert metric(world, "bot_throttled_updates_total", type="message") == 0
    assert metric(world, "bot_throttled_updates_total", type="callback_query") == 0
    assert metric(world, "bot_throttle_notices_total") == 0


def _language_button(message: Any, label: str) -> str:
    return next(
        str(b.callback_data)
        for row in message.reply_markup.inline_keyboard
        for b in row
        if b.text == label
    )


@pytest.mark.parametrize("language", ["en", "ru", "es"])
async def test_a_burst_of_sixty_gets_one_polite_answer_and_the_rest_are_dropped(
    tied: Callable[..., World],
    settings: Settings,
    clock: FrozenClock,
    engine: AsyncEngine,
    language: str,
) -> None:
    world = tied(throttled(settings))
    burst, quiet = world.app.settings.throttle.burst, 30
    ann = world.client(1, language_code=language)
    statements = Statements(engine)
    answered: list[list[str]] = []
    queries: list[int] = []
    for _ in range(60):  # all at once
        before = statements.count
        await ann.send("/my_requests")
        answered.append(ann.replies())
        queries.append(statements.count - before)

    assert all(len(replies) == 1 for replies in answered[:burst])
    with world.app.i18n.context(), world.app.i18n.use_locale(language):
        notice = ngettext(*NOTICE, quiet).format(seconds=quiet)
    assert answered[burst] == [notice]
    assert answered[burst + 1 :] == [[]] * (60 - burst - 1)
    # Dropped before any database work: no statement for the notice or the dropped ones.
    assert queries[burst:] == [0] * (60 - burst)
    assert metric(world, "bot_throttled_updates_total", type="message") == 60 - burst
    assert metric(world, "bot_throttle_notices_total") == 1
    assert metric(world, "bot_updates_total", type="message") == 60  # still counted as seen
    assert await rows(world, ErrorRecord) == []

    # Still dropped just before the quiet period ends; answered again after it.
    clock.advance(timedelta(seconds=quiet - 1))
    await ann.send("/my_requests")
    assert ann.replies() == []
    clock.advance(timedelta(seconds=1))
    await ann.send("/my_requests")
    assert len(ann.replies()) == 1 and ann.replies() != [notice]


async def test_the_notice_speaks_the_language_the_person_chose(
    tied: Callable[..., World], settings: Settings
) -> None:
    world = tied(throttled(settings, burst=3, quiet_seconds=1))
    ann = world.client(1, language_code="en")  # Telegram says English
    await ann.send("/language")
    await ann.click("Русский")  # they chose Russian
    await ann.send("/my_requests")  # the user middleware's copy is now the Russian one
    await ann.send("/my_requests")
    with world.app.i18n.context(), world.app.i18n.use_locale("ru"):
        expected = ngettext(*NOTICE, 1).format(seconds=1)
    assert ann.replies() == [expected]


async def test_a_flood_of_button_presses_still_stops_every_spinner(
    tied: Callable[..., World], settings: Settings, engine: AsyncEngine
) -> None:
    world = tied(throttled(settings))
    burst = world.app.settings.throttle.burst
    ann = world.client(1)
    await ann.send("/language")  # one of the burst
    menu = ann.find_button_message("English")
    data = _language_button(menu, "English")
    statements = Statements(engine)
    answers: list[AnswerCallbackQuery] = []
    for n in range(30):
        before = statements.count
        await ann.press(menu, data)
        [answer] = ann.callback_answers()  # every press answered exactly once
        answers.append(answer)
        if n >= burst - 1:
            assert statements.count == before, f"press {n} reached the database"
    handled, notice, dropped = answers[: burst - 1], answers[burst - 1], answers[burst:]
    assert not any(a.show_alert for a in handled)
    with world.app.i18n.context(), world.app.i18n.use_locale("en"):
        expected = ngettext(*NOTICE, 30).format(seconds=30)
    assert notice.show_alert and notice.text == expected
    assert all(a.text is None and not a.show_alert for a in dropped)
    assert metric(world, "bot_throttled_updates_total", type="callback_query") == 30 - burst + 1
    # No message was sent for the throttled presses.
    sent = [c for c in world.session.calls if isinstance(c, SendMessage)]
    assert len(sent) == 1  # the /language menu


async def test_one_persons_flood_leaves_everyone_else_alone(
    tied: Callable[..., World], settings: Settings
) -> None:
    world = tied(throttled(settings))
    flooder, other = world.client(1), world.client(2)
    for _ in range(40):
        await flooder.send("/my_requests")
    for _ in range(5):
        await other.send("/my_requests")
        assert len(other.replies()) == 1


async def test_support_staff_floods_are_throttled_too(
    tied: Callable[..., World], settings: Settings
) -> None:
    world = tied(throttled(settings, burst=3))
    await person(world, 5, Role.SUPPORT)
    support: TelegramClient = world.client(5)
    replies = []
    for _ in range(6):
        await support.send("/workflow_recovery")
        replies.append(len(support.replies()))
    assert replies == [1, 1, 1, 1, 0, 0]  # three handled, the notice, then nothing


# -- settings ---------------------------------------------------------------------------------


def test_flood_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings(_env_file=None)
    assert (
        defaults.throttle.rate_per_second,
        defaults.throttle.burst,
        defaults.throttle.quiet_seconds,
        defaults.throttle.max_people,
        defaults.error.occurrences_per_minute,
    ) == (1.0, 10, 30.0, 10_000, 5)
    monkeypatch.setenv("THROTTLE_BURST", "20")
    monkeypatch.setenv("ERROR_OCCURRENCES_PER_MINUTE", "3")
    tuned = load_settings(_env_file=None)
    assert (tuned.throttle.burst, tuned.error.occurrences_per_minute) == (20, 3)
