"""Every "Yes" applies exactly what its confirmation showed (issue 16).

Each confirmation of the staff screens is pressed (a) after what it showed changed, (b) after it
expired, (c) a second time, (d) with a made-up id and (e) by another admin; the database must
show that nothing unseen was applied, and the admin is told why."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiogram.exceptions import TelegramForbiddenError
from aiogram.methods import SendMessage
from aiogram.types import Message
from sqlalchemy import select, update

from core.enums import Role, TransactionOutcome
from database.models import (
    Confirmation,
    ErrorRecord,
    InventoryItem,
    InventoryTransaction,
    PendingNotification,
    ReconciliationRun,
    Request,
    TransactionLog,
)
from handlers.admin import appliers
from handlers.admin.callbacks import ConfirmYes
from outbox.payloads import RequestCompleted
from outbox.repository import enqueue
from services.confirmations import ConfirmationKind
from services.failures.classify import FailureContext
from services.requests import Line
from tests.conftest import ADMIN_TG_ID, World
from tests.factories import person, stock
from tests.support.client import TelegramClient, strip_reference

ADMIN2, REQUESTER, MANAGER, KEEPER = 901, 101, 201, 301
EXPIRED = (
    "This confirmation has expired (it is valid for 15 minutes). Nothing was changed. "
    "Look again and confirm anew."
)
MISSING = "This confirmation does not exist. Nothing was changed. Start again from the menu."
FOREIGN = "Only the admin who asked for this confirmation can confirm it."
Ctx = dict[str, Any]


# -- what each confirmation needs ------------------------------------------------------------


async def set_stock(world: World, sku: str, figure: int) -> None:
    async with world.app.sessionmaker() as session, session.begin():
        await session.execute(
            update(InventoryItem).where(InventoryItem.sku == sku).values(stock=figure)
        )


async def inventory_state(world: World) -> Any:
    async with world.app.sessionmaker() as session:
        found = await session.execute(select(InventoryItem.sku, InventoryItem.stock))
        stocks = dict(found.all())
        movements = len(list(await session.scalars(select(InventoryTransaction.id))))
        runs = len(list(await session.scalars(select(ReconciliationRun.id))))
    return stocks, movements, runs


async def drifted(world: World) -> Ctx:
    await stock(world, ("A", "Alpha", 20), ("B", "Beta", 10), ("C", "Gamma", 5))
    await set_stock(world, "A", 15)  # the figure drifts from its ledger
    await set_stock(world, "B", 9)
    return {}


async def to_apply(admin: TelegramClient) -> None:
    await admin.send("/reconcile")
    await admin.click("Apply")
    assert admin.last_reply() == (
        "Apply will recompute 2 stock figure(s), reverse 0 movement(s) and leave 0 "
        "finding(s) for an admin. Apply now?"
    )


async def reconcile_changes(world: World) -> None:
    await set_stock(world, "B", 10)  # B is right again: its finding is gone
    await set_stock(world, "C", 1)  # C drifts: a finding nobody was shown


async def reconcile_changed(world: World) -> None:
    stocks, _movements, runs = await inventory_state(world)
    assert stocks == {"A": 20, "B": 10, "C": 1}  # A fixed as shown; C left as it is
    assert runs == 1


async def item_counted(world: World) -> Ctx:
    await stock(world, ("A", "Alpha", 20))
    return {}


async def to_count(admin: TelegramClient) -> None:
    await admin.send("/reconcile")
    await admin.click("Open findings")
    await admin.click("Count an item by SKU")
    await admin.send("A")
    await admin.send("18")
    await admin.click("Damaged or lost")
    assert admin.last_reply() == (
        "Set the counted quantity of Alpha (A) to 18? Its stock figure is 20 and its ledger "
        "balance 20: an adjustment of -2 will be posted.\nReason: Damaged or lost"
    )


async def received_meanwhile(world: World) -> None:
    # A delivery is booked while the admin looks at the confirmation.
    async with world.app.sessionmaker() as session, session.begin():
        item = await session.scalar(select(InventoryItem).where(InventoryItem.sku == "A"))
        assert item is not None
        item.stock += 5
        session.add(
            InventoryTransaction(
                item_id=item.id,
                kind="receipt",
                quantity=5,
                status="committed",
                created_at=world.app.clock.now(),
                committed_at=world.app.clock.now(),
            )
        )


async def count_changed(world: World) -> None:
    stocks, movements, _runs = await inventory_state(world)
    assert (stocks, movements) == ({"A": 25}, 2)  # the import and the receipt; no adjustment


async def write_dead(world: World, *telegram_ids: int) -> None:
    for telegram_id in telegram_ids:
        user = await world.app.users.grant(telegram_id, Role.REQUESTER)
        async with world.app.sessionmaker() as session, session.begin():
            await enqueue(
                session,
                recipient_id=user.id,
                payload=RequestCompleted(request_id=telegram_id, workflow="inventory_request"),
                idempotency_key=f"k{telegram_id}",
                now=world.app.clock.now(),
            )
        world.session.queue(
            TelegramForbiddenError(method=SendMessage(chat_id=1, text="x"), message="blocked")
        )
        await world.deliver()


async def notification_state(world: World) -> Any:
    async with world.app.sessionmaker() as session:
        rows = (await session.execute(select(PendingNotification))).unique().scalars()
        audit = await session.scalars(
            select(TransactionLog.operation).where(
                TransactionLog.actor_id.is_not(None),
                TransactionLog.outcome == TransactionOutcome.COMMITTED,
            )
        )
        return sorted((r.id, r.status.value, r.attempts) for r in rows), sorted(audit)


async def one_dead(world: World) -> Ctx:
    await write_dead(world, 77)
    return {}


async def two_dead(world: World) -> Ctx:
    await write_dead(world, 77, 78)
    return {}


async def to_row(admin: TelegramClient, then: str) -> None:
    await admin.send("/notifications")
    await admin.click("Dead (1)")
    await admin.click("#1")
    await admin.click(then)


async def to_retry_one(admin: TelegramClient) -> None:
    await to_row(admin, "Retry now")
    assert admin.buttons() == ["Yes, retry", "« Back"]


async def to_discard_one(admin: TelegramClient) -> None:
    await to_row(admin, "Discard")
    assert admin.last_reply() == "Discard notification #1? Choose a reason."


async def to_all(admin: TelegramClient, then: str) -> None:
    await admin.send("/notifications")
    await admin.click("Dead (2)")
    await admin.click(then)


async def to_retry_all(admin: TelegramClient) -> None:
    await to_all(admin, "Retry all")
    assert admin.last_reply() == "Retry all 2 in “Dead” now?"


async def to_discard_all(admin: TelegramClient) -> None:
    await to_all(admin, "Discard all")
    assert admin.last_reply() == "Discard all 2 in “Dead”? Choose a reason."


async def first_row_sent_elsewhere(world: World) -> None:
    await world.app.notifications.retry([1], None)  # an operator on the command line
    await write_dead(world, 79)  # and a new dead row nobody was shown


async def rows_changed(world: World) -> None:
    rows, audit = await notification_state(world)
    assert [status for _id, status, _attempts in rows] == ["sent", "dead", "dead"][: len(rows)]
    assert audit == []  # the admin's press changed nothing (a refused attempt is logged)


async def stuck(world: World, count: int = 1) -> Ctx:
    await stock(world, ("P-1", "Paper", 10))
    for telegram_id, role in ((REQUESTER, Role.REQUESTER), (MANAGER, Role.MANAGER)):
        await person(world, telegram_id, role)
    await person(world, KEEPER, Role.STOREKEEPER)
    users = {u.telegram_id: u.id for u in await world.app.users.list_users()}
    for _n in range(count):
        await world.app.requests.create(users[REQUESTER], [Line(1, 1)])
    world.app.clock.advance(timedelta(hours=25))  # type: ignore[attr-defined]

    async def no_wait(seconds: float) -> None:
        return None

    world.app.bulk.sleep = no_wait
    return {"manager": users[MANAGER]}


async def two_stuck(world: World) -> Ctx:
    return await stuck(world, 2)


async def to_force_complete(admin: TelegramClient) -> None:
    await admin.send("/workflow_recovery")
    await admin.click("Stuck workflows (1)")
    await admin.click("#1")
    await admin.click("Force complete · high risk")
    await admin.click("Wrong stage")
    assert admin.last_reply().startswith("Please confirm: Force complete (high risk).")


async def to_bulk(admin: TelegramClient) -> None:
    await admin.send("/workflow_recovery")
    await admin.click("Stuck workflows (2)")
    await admin.click("Bulk action…")
    await admin.click("Force complete")
    await admin.click("Wrong stage")
    assert admin.last_reply().startswith(
        "Please confirm: Force complete for 2 stuck requests: #1, #2."
    )


async def request_state(world: World) -> Any:
    async with world.app.sessionmaker() as session:
        found = await session.scalars(select(Request).order_by(Request.id))
        return [(r.id, r.status.value, r.stage, r.version) for r in found]


async def approved_meanwhile(world: World) -> None:
    users = {u.telegram_id: u.id for u in await world.app.users.list_users()}
    await world.app.requests.approve(1, users[MANAGER], 1)


async def approved_stays(world: World) -> None:
    [first, *others] = await request_state(world)
    assert first == (1, "active", "warehouse_issue", 2)  # approved, not forced on
    assert all(status == "completed" for _id, status, _stage, _version in others)


async def wait_jobs(world: World) -> None:
    if await world.app.bulk.job(1) is not None:
        await world.app.bulk.wait(1)


async def an_error(world: World) -> Ctx:
    await world.app.recorder.record(RuntimeError("db glitch"), FailureContext(handler="h.one"))
    async with world.app.sessionmaker() as session:
        record = await session.scalar(select(ErrorRecord))
    assert record is not None
    return {"reference": record.reference}


async def to_resolve(admin: TelegramClient) -> None:
    await admin.send("/workflow_recovery")
    await admin.click("Error statistics")
    reference = admin.buttons()[0]
    await admin.click(reference)
    await admin.click("Mark resolved")
    assert admin.last_reply() == (f"How was {reference} resolved? Choose a note or type your own.")


async def error_state(world: World) -> Any:
    async with world.app.sessionmaker() as session:
        records = await session.scalars(select(ErrorRecord).where(ErrorRecord.handler == "h.one"))
        return [(r.count, r.resolved_at, r.resolution_note) for r in records]


async def recurred(world: World) -> None:
    await world.app.recorder.record(RuntimeError("db glitch"), FailureContext(handler="h.one"))


async def still_open(world: World) -> None:
    assert await error_state(world) == [(2, None, None)]


async def nothing(world: World) -> None:
    return None


@dataclass(frozen=True)
class Case:
    setup: Callable[[World], Awaitable[Ctx]]
    reach: Callable[[TelegramClient], Awaitable[None]]  # up to the confirmation screen
    yes: str  # the label of its "Yes"
    state: Callable[[World], Awaitable[Any]]  # what the confirmation could change
    change: Callable[[World], Awaitable[None]]  # what changes meanwhile
    changed_reply: str  # what the admin reads after pressing "Yes" on a changed screen
    changed_state: Callable[[World], Awaitable[None]]  # asserts: nothing unseen applied
    outcome: str  # the outcome a second press reports
    settle: Callable[[World], Awaitable[None]] = nothing  # background work of the press


LIST_CHANGED = "⚠️ The list changed since the preview ({count} now). Open it again."
CASES = {
    "reconcile_apply": Case(
        drifted,
        to_apply,
        "Yes, apply",
        inventory_state,
        reconcile_changes,
        "⚠️ The findings changed since the preview: 1 of those shown are gone and were "
        "skipped, 1 not shown were left alone. Only what the preview showed was applied; "
        "make a fresh preview to see the rest.\n\nReconciliation run #1 applied.",
        reconcile_changed,
        "Reconciliation run #1 applied: 2 fixed.",
    ),
    "set_counted": Case(
        item_counted,
        to_count,
        "Yes, post it",
        inventory_state,
        received_meanwhile,
        "⚠️ Not posted: the item changed since the confirmation (stock figure now 25, ledger "
        "balance 25). Count it again.",
        count_changed,
        "Adjustment -2 posted for A.",
    ),
    "notification_retry": Case(
        one_dead,
        to_retry_one,
        "Yes, retry",
        notification_state,
        first_row_sent_elsewhere,
        LIST_CHANGED.format(count=0),
        rows_changed,
        "1 notification(s) retried.",
    ),
    "notification_retry_all": Case(
        two_dead,
        to_retry_all,
        "Yes, retry 2",
        notification_state,
        first_row_sent_elsewhere,
        LIST_CHANGED.format(count=1),
        rows_changed,
        "2 notification(s) retried.",
    ),
    "notification_discard": Case(
        one_dead,
        to_discard_one,
        "Sent another way",
        notification_state,
        first_row_sent_elsewhere,
        LIST_CHANGED.format(count=0),
        rows_changed,
        "1 notification(s) discarded.",
    ),
    "notification_discard_all": Case(
        two_dead,
        to_discard_all,
        "Sent another way",
        notification_state,
        first_row_sent_elsewhere,
        LIST_CHANGED.format(count=1),
        rows_changed,
        "2 notification(s) discarded.",
    ),
    "recovery_action": Case(
        stuck,
        to_force_complete,
        "Confirm",
        request_state,
        approved_meanwhile,
        "⚠️ Not applied: the request changed meanwhile. This is how it is now:\n\n"
        "Request #1: in progress, at Warehouse issue",
        approved_stays,
        "Request #1: the recovery action was applied.",
    ),
    "recovery_bulk": Case(
        two_stuck,
        to_bulk,
        "Confirm",
        request_state,
        approved_meanwhile,
        "Bulk job #1: running. 0 applied, 0 skipped (changed meanwhile or no longer "
        "applicable), 0 failed, of 2.",
        approved_stays,
        "Bulk job #1 was started for 2 requests.",
        settle=wait_jobs,
    ),
    "resolve_error": Case(
        an_error,
        to_resolve,
        "Fixed",
        error_state,
        recurred,
        "⚠️ Not resolved: the error occurred again since it was shown. This is it now:",
        still_open,
        "{reference} was marked resolved.",
    ),
}


async def confirmation_screen(world: World, case: Case) -> tuple[TelegramClient, Message, Ctx]:
    ctx = await case.setup(world)
    await person(world, ADMIN_TG_ID, Role.ADMIN)
    admin = world.client(ADMIN_TG_ID, "Root")
    await case.reach(admin)
    return admin, admin.find_button_message(case.yes), ctx


def answer_of(client: TelegramClient) -> str:
    [answer] = client.callback_answers()
    assert answer.show_alert
    return strip_reference(answer.text)


# -- the five presses, for every confirmation ----------------------------------------------

kinds = pytest.mark.parametrize("kind", list(CASES))


@kinds
async def test_a_changed_scope_applies_nothing_unseen(world: World, kind: str) -> None:
    case = CASES[kind]
    admin, screen, _ctx = await confirmation_screen(world, case)
    await case.change(world)
    await admin.click_on(screen, case.yes)
    await case.settle(world)
    assert admin.last_reply().startswith(case.changed_reply)
    await case.changed_state(world)


@kinds
async def test_an_expired_confirmation_does_nothing(world: World, kind: str) -> None:
    case = CASES[kind]
    admin, screen, _ctx = await confirmation_screen(world, case)
    before = await case.state(world)
    world.app.clock.advance(timedelta(minutes=15))  # type: ignore[attr-defined]
    await admin.click_on(screen, case.yes)
    assert answer_of(admin) == EXPIRED
    assert admin.replies() == []
    assert await case.state(world) == before


@kinds
async def test_a_second_press_says_it_was_already_applied(world: World, kind: str) -> None:
    case = CASES[kind]
    admin, screen, ctx = await confirmation_screen(world, case)
    before = await case.state(world)
    pressed_at = world.app.clock.now()
    await admin.click_on(screen, case.yes)
    await case.settle(world)
    after = await case.state(world)
    assert after != before  # the first press applied
    world.app.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    await admin.click_on(screen, case.yes)
    assert answer_of(admin) == (
        f"This was already confirmed at {pressed_at:%Y-%m-%d %H:%M} UTC.\n"
        + case.outcome.format(**ctx)
    )
    assert await case.state(world) == after


@kinds
async def test_a_made_up_id_does_nothing(world: World, kind: str) -> None:
    case = CASES[kind]
    admin, screen, _ctx = await confirmation_screen(world, case)
    before = await case.state(world)
    for forged in ("A" * 22, "x"):
        await admin.press(screen, ConfirmYes(token=forged).pack())
        assert answer_of(admin) == MISSING
    # Longer than a stored token: not a button the bot made (tests/test_forged_buttons.py).
    await admin.press(screen, f"cy:{'A' * 40}:0")
    assert answer_of(admin) == "This button is no longer active. Start again from the menu: /help"
    assert await case.state(world) == before


@kinds
async def test_another_admin_cannot_confirm(world: World, kind: str) -> None:
    case = CASES[kind]
    admin, screen, _ctx = await confirmation_screen(world, case)
    await person(world, ADMIN2, Role.ADMIN)
    other = world.client(ADMIN2, "Ada")
    before = await case.state(world)
    await other.click_on(screen, case.yes)  # the same button, say forwarded or replayed
    assert answer_of(other) == FOREIGN
    assert await case.state(world) == before
    await admin.click_on(screen, case.yes)  # still the asking admin's to confirm
    await case.settle(world)
    assert await case.state(world) != before


# -- around the cases ----------------------------------------------------------------------


async def test_the_issue_s_stale_apply_changes_no_stock(world: World) -> None:
    """A stock figure drifts, and a "Yes" arrives where no confirmation was shown."""
    await drifted(world)
    await person(world, ADMIN_TG_ID, Role.ADMIN)
    admin = world.client(ADMIN_TG_ID, "Root")
    await admin.send("/reconcile")
    home = admin.find_button_message("Apply")
    await admin.press(home, "rc:y:0")  # the old button: no record behind it
    assert admin.callback_answers()[0].text == (
        "This button is no longer active. Start again from the menu: /help"
    )
    await admin.press(home, ConfirmYes(token="Zm9yZ2VkLXRva2VuLTEyMw").pack())
    assert answer_of(admin) == MISSING
    assert await inventory_state(world) == ({"A": 15, "B": 9, "C": 5}, 3, 0)


async def test_expiry_is_told_in_spanish_and_the_record_keeps_what_was_shown(
    world: World,
) -> None:
    await drifted(world)
    await person(world, ADMIN_TG_ID, Role.ADMIN)
    admin = world.client(ADMIN_TG_ID, "Root", "es")
    await admin.send("/reconcile")
    await admin.click("Aplicar")
    world.app.clock.advance(timedelta(minutes=14, seconds=59))  # type: ignore[attr-defined]
    async with world.app.sessionmaker() as session:
        [record] = await session.scalars(select(Confirmation))
    assert (record.action, record.scope["findings"]) == (
        "reconcile_apply",
        [
            "stock_mismatch:item:1|20|15|recompute_stock",
            "stock_mismatch:item:2|10|9|recompute_stock",
        ],
    )
    assert record.summary == admin.last_reply()
    assert record.expires_at - record.created_at == timedelta(minutes=15)
    world.app.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
    await admin.click("Sí, aplicar")
    assert answer_of(admin) == (
        "Esta confirmación caducó (es válida durante 15 minutos). No se cambió nada. "
        "Vuelve a mirar y confirma de nuevo."
    )
    assert await inventory_state(world) == ({"A": 15, "B": 9, "C": 5}, 3, 0)


def test_a_confirmation_button_fits_in_callback_data() -> None:
    assert len(ConfirmYes(token="A" * 32, pick=-1).pack()) <= 64


# -- the kinds, their appliers and what is stored ----------------------------------------------


def test_every_confirmation_kind_has_an_applier() -> None:
    table = appliers()
    assert set(table) == set(ConfirmationKind)
    assert all(applier.kind is kind for kind, applier in table.items())


# What the confirmations table held before the scopes were typed: a record written by that code
# must still apply.
STORED_KEYS = {
    "reconcile_apply": {"findings"},
    "set_counted": {"item_id", "counted", "reason", "stock", "balance"},
    "notification_retry": {"status", "rows", "one"},
    "notification_discard": {"status", "rows", "one"},
    "recovery_action": {"action", "request_id", "version", "target", "reason"},
    "recovery_bulk": {"action", "targets", "reason"},
    "resolve_error": {"record_id", "reference", "count"},
}


async def stored_confirmation(world: World) -> Confirmation:
    async with world.app.sessionmaker() as session:
        [record] = await session.scalars(select(Confirmation))
        return record


@kinds
async def test_the_stored_scope_keeps_its_keys_and_a_malformed_one_applies_nothing(
    world: World, kind: str
) -> None:
    case = CASES[kind]
    admin, screen, _ctx = await confirmation_screen(world, case)
    record = await stored_confirmation(world)
    assert set(record.scope) == STORED_KEYS[record.action]
    assert kind.startswith(record.action)
    before = await case.state(world)
    async with world.app.sessionmaker() as session, session.begin():
        await session.execute(
            update(Confirmation).values(scope={key: {"x": 1} for key in record.scope})
        )
    await admin.click_on(screen, case.yes)
    assert answer_of(admin) == MISSING
    assert await case.state(world) == before
    assert (await stored_confirmation(world)).used_at is None  # released: nothing was applied
