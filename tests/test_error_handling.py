"""The error-handling middleware end to end: what people read, what is recorded, what admins
are told, and what happens when the database itself goes away."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import asyncpg.exceptions
import pytest
from aiogram.exceptions import TelegramServerError
from aiogram.methods import SendMessage
from aiogram.utils.i18n import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from core.enums import ErrorCategory, ErrorSeverity, Role
from core.exceptions import InsufficientStock, InvalidTransition
from database.models import ErrorOccurrence, ErrorRecord, PendingNotification, TransactionLog
from outbox.payloads import RequestCompleted
from outbox.repository import ALERT, enqueue
from services.retention import cleanup
from tests.conftest import ADMIN_TG_ID, World
from tests.factories import person, stock
from tests.support.client import reference_in, strip_reference
from utils.healing import ExecutionStatus

TOKEN = "42:TEST-TOKEN"


def fails_with(exc: BaseException) -> Callable[..., Any]:
    async def raiser(*_args: Any, **_kwargs: Any) -> Any:
        raise exc

    return raiser


async def all_rows(world: World, model: type) -> list[Any]:
    async with world.app.sessionmaker() as session:
        result = await session.execute(select(model).order_by(model.id))
        return list(result.unique().scalars())


def deadlock() -> OperationalError:
    return OperationalError(
        "UPDATE requests ...", {}, asyncpg.exceptions.DeadlockDetectedError("deadlock detected")
    )


CASES = [
    pytest.param(
        RuntimeError("boom"),
        ErrorCategory.SYSTEM,
        ErrorSeverity.HIGH,
        "Something went wrong on our side. Please try again later.",
        id="system",
    ),
    pytest.param(
        deadlock(),
        ErrorCategory.TRANSIENT,
        ErrorSeverity.MEDIUM,
        "Please try again in a moment.",
        id="transient",
    ),
    pytest.param(
        IntegrityError("INSERT ...", {}, Exception("UNIQUE constraint failed")),
        ErrorCategory.DATA,
        ErrorSeverity.MEDIUM,
        "Please check what you entered and try again.",
        id="data",
    ),
    pytest.param(
        InvalidTransition(),
        ErrorCategory.BUSINESS_LOGIC,
        ErrorSeverity.LOW,
        "This request is no longer waiting for that action.",
        id="business_logic",
    ),
    pytest.param(
        InsufficientStock(item="Tape", requested=3, available=1),
        ErrorCategory.INVENTORY,
        ErrorSeverity.MEDIUM,
        "Not enough stock of Tape: 3 requested, 1 available. Nothing was changed.",
        id="inventory",
    ),
    pytest.param(
        TelegramServerError(method=SendMessage(chat_id=1, text="x"), message="Bad Gateway"),
        ErrorCategory.NOTIFICATION,
        ErrorSeverity.MEDIUM,
        "Please try again in a moment.",
        id="notification",
    ),
]


@pytest.mark.parametrize(("exc", "category", "severity", "text"), CASES)
async def test_each_category_gets_its_message_a_reference_and_a_record(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    exc: BaseException,
    category: ErrorCategory,
    severity: ErrorSeverity,
    text: str,
) -> None:
    monkeypatch.setattr(world.app.requests, "for_requester", fails_with(exc))
    ann = world.client(1)
    await ann.send("/my_requests")
    reply = ann.last_reply()
    reference = reference_in(reply)
    assert reference is not None, reply
    assert reply == f"{text}\nReference: {reference}"
    [record] = await all_rows(world, ErrorRecord)
    assert (record.category, record.severity, record.count) == (category, severity, 1)
    assert record.handler == "handlers.requests.my_requests"
    assert record.context["user_id"] == 1 and "update_id" in record.context
    assert record.exception_type.endswith(type(exc).__qualname__)
    [occurrence] = await all_rows(world, ErrorOccurrence)
    assert occurrence.reference == record.reference == reference
    assert await world.app.errors.find(reference) is not None
    # Nothing internal reaches the person.
    assert "Traceback" not in reply and type(exc).__name__ not in reply


@pytest.mark.parametrize("language", ["ru", "es"])
async def test_the_reply_is_in_the_persons_language(
    world: World, monkeypatch: pytest.MonkeyPatch, language: str
) -> None:
    monkeypatch.setattr(world.app.requests, "for_requester", fails_with(RuntimeError("x")))
    person_ = world.client(2, language_code=language)
    await person_.send("/my_requests")
    reply = person_.last_reply()
    reference = reference_in(reply)
    with world.app.i18n.context(), world.app.i18n.use_locale(language):
        expected = (
            _("Something went wrong on our side. Please try again later.")
            + "\n"
            + _("Reference: {reference}").format(reference=reference)
        )
    assert reply == expected
    assert "Something went wrong" not in reply


async def test_a_failed_button_press_is_answered_with_the_reference(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = world.client(1)
    await ann.send("/language")
    monkeypatch.setattr(world.app.users, "set_language", fails_with(KeyError("lang")))
    await ann.click("Español")
    [answer] = ann.callback_answers()
    assert answer.show_alert is True
    assert strip_reference(answer.text) == (
        "Something went wrong on our side. Please try again later."
    )
    [record] = await all_rows(world, ErrorRecord)
    assert record.context["callback_data"] == "lg:es"
    assert record.handler == "handlers.common.language_chosen"


async def test_a_button_that_fails_after_its_first_step_is_answered_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer waits for the handler, so a late failure is the one alert, not a second."""
    await world.app.users.ensure_admins()
    admin = world.client(ADMIN_TG_ID)
    await admin.send("/workflow_recovery")
    monkeypatch.setattr(world.app.stuck, "count", fails_with(RuntimeError("late")))
    await admin.press(admin.find_button_message("Recovery log"), "wr:home")
    [answer] = admin.callback_answers()
    assert answer.show_alert is True
    assert strip_reference(answer.text) == (
        "Something went wrong on our side. Please try again later."
    )


async def test_input_feedback_is_not_recorded(world: World) -> None:
    await stock(world, ("P-1", "Pens", 5))
    ann = world.client(1)
    await ann.send("/new_request")
    await ann.click("Pens (5 pcs)")
    await ann.send("lots")
    assert ann.last_reply() == "Please send the quantity as a whole number, for example 3."
    assert await all_rows(world, ErrorRecord) == []


async def test_secrets_and_personal_data_are_masked_in_records_and_logs(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    world.app.masker.add_secret("ACME-INTERNAL-KEY")
    leaks = {
        "bot token": TOKEN,
        "database password": "pw-s3cret-9",
        "phone": "+7 912 345-67-89",
        "e-mail": "ivan.petrov@example.com",
        "configured": "ACME-INTERNAL-KEY",
    }
    message = (
        f"token {TOKEN} at postgresql://bot:pw-s3cret-9@db/bot, call +7 912 345-67-89 "
        "or ivan.petrov@example.com, key ACME-INTERNAL-KEY"
    )
    monkeypatch.setattr(world.app.requests, "for_requester", fails_with(RuntimeError(message)))
    caplog.set_level(logging.INFO)
    await world.client(3).send("/my_requests")
    # A forged button can carry personal data too; it lands in the context.
    ann = world.client(3)
    await ann.send("/language")
    await ann.press(ann.find_button_message("English"), "mail:ivan.petrov@example.com")
    [record] = await all_rows(world, ErrorRecord)
    stored = f"{record.message}\n{record.stack_trace}\n{record.context}"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for kind, secret in leaks.items():
        assert secret not in stored, kind
        assert secret not in logged, kind
    assert "RuntimeError" in record.stack_trace  # the trace is kept, only masked
    assert "***" in record.message


async def test_the_token_secret_half_in_callback_data_is_masked_in_the_context(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = TOKEN.split(":", 1)[1]
    ann = world.client(3)
    await ann.send("/language")
    monkeypatch.setattr(world.app.users, "register", fails_with(RuntimeError("boom")))
    # A forged button carrying the token's secret half, pressed while a bug breaks every update.
    await ann.press(ann.find_button_message("English"), f"lg:{secret}")
    [record] = await all_rows(world, ErrorRecord)
    [occurrence] = await all_rows(world, ErrorOccurrence)
    assert record.context["callback_data"] == occurrence.context["callback_data"] == "lg:***"
    assert secret not in f"{record.context}{occurrence.context}{record.message}"


async def test_an_error_storm_is_one_alert_with_a_growing_count(
    world: World, monkeypatch: pytest.MonkeyPatch, clock: Any
) -> None:
    await world.app.users.ensure_admins()
    await person(world, 901, Role.ADMIN)
    monkeypatch.setattr(world.app.requests, "for_requester", fails_with(RuntimeError("storm")))
    for user_id in range(100, 130):  # 30 people hit the same bug
        await world.client(user_id).send("/my_requests")
    [record] = await all_rows(world, ErrorRecord)
    assert record.count == 30
    # The 20th repeat inside the window makes it a storm: high becomes critical.
    assert record.severity is ErrorSeverity.CRITICAL
    assert len(await all_rows(world, ErrorOccurrence)) == 30
    alerts = [n for n in await all_rows(world, PendingNotification) if n.kind == "error_alert"]
    assert sorted(n.recipient.telegram_id for n in alerts) == [ADMIN_TG_ID, 901]
    assert {n.priority for n in alerts} == {ALERT}  # sent before any routine notification
    await world.deliver()
    admin = world.client(ADMIN_TG_ID)
    assert admin.inbox() == [
        f"⚠️ Critical problem {record.reference}: system, RuntimeError in "
        "handlers.requests.my_requests. Seen 20 time(s) so far. "
        "Repeats will only raise the count."
    ]
    # After the alert window a repeat alerts again, with the count so far.
    clock.advance(timedelta(minutes=61))
    await world.client(200).send("/my_requests")
    await world.deliver()
    assert len(admin.inbox()) == 2
    assert "Seen 31 time(s)" in admin.inbox()[-1]


async def test_transient_faults_retry_with_backoff_and_jitter(world: World) -> None:
    sleeps: list[float] = []

    async def record_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    world.app.tx.sleep = record_sleep
    calls = 0

    async def work(change: Any) -> str:
        nonlocal calls
        calls += 1
        change.entity_id = 7
        if calls < 3:
            raise deadlock()
        return "done"

    assert await world.app.tx.run("demo", "thing", work) == "done"
    policy = world.app.tx.policy
    assert len(sleeps) == 2
    for attempt, pause in enumerate(sleeps):
        base = policy.initial * 2**attempt
        assert base <= pause <= base + policy.jitter
    logs = await all_rows(world, TransactionLog)
    assert [(t.outcome.value, t.attempts) for t in logs] == [
        ("rolled_back", 1),
        ("rolled_back", 2),
        ("committed", 3),
    ]
    assert logs[0].error is not None and logs[0].error.startswith("OperationalError")

    calls = -10  # now it never succeeds: the last error propagates after 3 attempts
    with pytest.raises(OperationalError):
        await world.app.tx.run("demo", "thing", work)
    assert len(await all_rows(world, TransactionLog)) == 6


async def test_a_refused_change_rolls_back_completely_and_logs_it(world: World) -> None:
    await stock(world, ("P-1", "Stapler", 1))
    await person(world, 2, Role.MANAGER)
    await person(world, 3, Role.STOREKEEPER)
    await person(world, 1, Role.REQUESTER)
    ids = {u.telegram_id: u.id for u in await world.app.users.list_users()}
    from services.requests import Line

    request = await world.app.requests.create(ids[1], [Line(1, 1)])
    request = await world.app.requests.approve(request.id, ids[2], request.version)
    async with world.app.sessionmaker() as session, session.begin():
        from database.models import InventoryItem

        (await session.get(InventoryItem, 1)).stock = 0  # type: ignore[union-attr]
    before_ledger = await all_rows(world, TransactionLog)
    with pytest.raises(InsufficientStock):
        await world.app.requests.approve(request.id, ids[3], request.version)
    logs = await all_rows(world, TransactionLog)
    [failed] = logs[len(before_ledger) :]
    assert (failed.operation, failed.outcome.value, failed.entity_id) == (
        "approve",
        "rolled_back",
        request.id,
    )
    assert failed.error == (
        "InsufficientStock: Not enough stock of Stapler: 1 requested, 0 available. "
        "Nothing was changed."
    )
    assert failed.before == {
        "stage": "warehouse_issue",
        "status": "active",
        "assignee_id": ids[3],
        "version": 2,
    }
    assert failed.after is None
    fresh = await world.app.requests.get(request.id)
    assert fresh is not None and (fresh.stage, fresh.version) == ("warehouse_issue", 2)


async def test_concurrent_edits_one_wins_and_the_loser_is_logged(world: World) -> None:
    await stock(world, ("P-1", "Paper", 10))
    for tg, role in ((1, Role.REQUESTER), (2, Role.MANAGER), (3, Role.MANAGER)):
        await person(world, tg, role)
    ids = {u.telegram_id: u.id for u in await world.app.users.list_users()}
    from core.exceptions import StaleVersion
    from services.requests import Line

    request = await world.app.requests.create(ids[1], [Line(1, 1)])
    results = await asyncio.gather(
        world.app.requests.approve(request.id, ids[2], request.version),
        world.app.requests.approve(request.id, ids[3], request.version),
        return_exceptions=True,
    )
    assert sum(isinstance(r, StaleVersion) for r in results) == 1
    approvals = [t for t in await all_rows(world, TransactionLog) if t.operation == "approve"]
    assert sorted(t.outcome.value for t in approvals) == ["committed", "rolled_back"]


async def test_cleanup_keeps_open_errors_and_recent_logs(world: World, clock: Any) -> None:
    async def fail(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("old problem")

    await world.app.recorder.record(RuntimeError("old"), _ctx("a"))
    await world.app.recorder.record(RuntimeError("open"), _ctx("b"))
    old = await world.app.errors.recent(10)
    await world.app.errors.resolve(
        next(r.reference for r in old if r.handler == "a"), None, "fixed in 1.2"
    )
    clock.advance(timedelta(days=31))
    result = await cleanup(
        world.app.tx,
        error_retention=timedelta(days=30),
        transaction_log_retention=timedelta(days=90),
    )
    assert (result.error_records, result.transaction_log) == (1, 0)
    [left] = await all_rows(world, ErrorRecord)
    assert left.handler == "b"
    clock.advance(timedelta(days=60))
    result = await cleanup(
        world.app.tx,
        error_retention=timedelta(days=30),
        transaction_log_retention=timedelta(days=90),
    )
    assert (result.error_records, result.transaction_log) == (0, 1)  # the resolve's audit row


def _ctx(handler: str) -> Any:
    from services.failures.classify import FailureContext

    return FailureContext(handler=handler)


async def test_admins_look_up_reference_codes_and_others_are_refused(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(world.app.requests, "for_requester", fails_with(RuntimeError("bad")))
    ann = world.client(1)
    await ann.send("/my_requests")
    reference = reference_in(ann.last_reply())
    await ann.send(f"/error {reference}")
    assert strip_reference(ann.last_reply()) == "Only admins and support can look up errors."
    await person(world, 5, Role.SUPPORT)
    support = world.client(5)
    await support.send(f"/error {reference}")
    lines = support.last_reply().splitlines()
    assert lines[0] == f"Error {reference}: system, severity high"
    assert lines[1] == "Where: handlers.requests.my_requests"
    assert lines[2] == "What: RuntimeError: bad"
    assert lines[-1] == "Open."
    await support.send("/error E-ZZZZZZ")
    assert support.last_reply() == "No error with reference E-ZZZZZZ."
    # The refused look-up is itself on record, as a permission problem.
    records = await all_rows(world, ErrorRecord)
    assert [r.category for r in records] == [ErrorCategory.SYSTEM, ErrorCategory.BUSINESS_LOGIC]


async def test_notification_failures_trigger_a_tracked_recovery(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    exc = TelegramServerError(method=SendMessage(chat_id=1, text="x"), message="Bad Gateway")
    monkeypatch.setattr(world.app.requests, "for_requester", fails_with(exc))
    kicks: list[bool] = []
    monkeypatch.setattr(world.app.outbox, "kick", lambda: kicks.append(True))
    await world.client(1).send("/my_requests")
    [execution] = world.app.healer.executions()
    finished = await world.app.healer.wait(execution.id)
    assert (finished.strategy, finished.status) == (
        "retry_notifications",
        ExecutionStatus.COMPLETED,
    )
    [record] = await all_rows(world, ErrorRecord)
    assert record.retry_count == 1


async def test_outbox_keeps_rows_while_the_telegram_breaker_is_open(world: World) -> None:
    user = await world.app.users.grant(77, Role.REQUESTER)
    async with world.app.sessionmaker() as session, session.begin():
        for i in range(8):
            await enqueue(
                session,
                recipient_id=user.id,
                payload=RequestCompleted(request_id=i, workflow="inventory_request"),
                idempotency_key=f"k{i}",
                now=world.app.clock.now(),
            )
    for _attempt in range(5):
        world.session.queue(
            TelegramServerError(method=SendMessage(chat_id=77, text="x"), message="Bad Gateway")
        )
    assert await world.deliver() == 0
    rows = await all_rows(world, PendingNotification)
    assert [r.attempts for r in rows] == [1, 1, 1, 1, 1, 0, 0, 0]
    assert world.app.telegram_breaker.state.value == "open"
    calls = len(world.session.calls)
    assert await world.deliver() == 0
    assert len(world.session.calls) == calls  # nothing was even tried
