"""Inputs a person types or an operator imports, and what the bot stores about them: counted
quantities in ASCII digits only, CSV stock figures bounded with line-numbered errors, an
assignment that never lands on the requester, a Telegram error stored masked."""

from __future__ import annotations

import pytest
from aiogram.exceptions import TelegramBadRequest, TelegramServerError
from aiogram.methods import SendMessage
from sqlalchemy import func, select

from core.enums import (
    NotificationStatus,
    RecoveryAction,
    RecoveryOutcome,
    Role,
    TransactionKind,
    TransactionStatus,
)
from database.models import (
    ErrorOccurrence,
    ErrorRecord,
    InventoryItem,
    InventoryTransaction,
    PendingNotification,
    Request,
    User,
)
from outbox.payloads import RequestCompleted
from outbox.repository import enqueue
from services.inventory import MAX_STOCK, ImportFailed, ImportRow, parse_items_csv
from services.requests import Line
from tests.conftest import ADMIN_TG_ID, World
from tests.factories import person, stock

NOT_DIGITS = ["١٢", "１２", "1_000", "+5", "1 000", "12.0", "٣"]


async def count(world: World, model: type) -> int:
    async with world.app.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# -- counted quantities ---------------------------------------------------------------------

COUNT_AGAIN = "Please send a whole number, 0 or more (for example 12), or /cancel."
QUANTITY_AGAIN = "Please send the quantity as a whole number, for example 3."


async def test_a_count_takes_ascii_digits_only(world: World) -> None:
    await stock(world, ("H", "Healthy", 1))
    await world.app.users.ensure_admins()
    admin = world.client(ADMIN_TG_ID, "Ada")
    await admin.send("/reconcile")
    await admin.click("Open findings")
    await admin.click("Count an item by SKU")
    await admin.send("H")
    for typed in [*NOT_DIGITS, "9" * 4000]:
        await admin.send(typed)
        assert admin.replies() == [COUNT_AGAIN], typed
    await admin.send("12")
    assert admin.last_reply() == "Why does the count differ? Choose a reason or type your own."
    assert await count(world, ErrorRecord) == 0
    assert await count(world, ErrorOccurrence) == 0


async def test_a_requested_quantity_takes_ascii_digits_only(world: World) -> None:
    await stock(world, ("P-1", "Paper", 10))
    ann = world.client(101)
    await ann.send("/new_request")
    await ann.click(ann.buttons()[0])
    for typed in NOT_DIGITS:
        await ann.send(typed)
        assert ann.replies() == [QUANTITY_AGAIN], typed
    await ann.send("9" * 4000)
    assert ann.replies() == ["The quantity cannot be more than 100."]
    await ann.send("2")
    assert "Submit request" in ann.buttons()
    assert await count(world, ErrorRecord) == 0


# -- the CSV import ---------------------------------------------------------------------------


def test_csv_stock_is_ascii_digits_within_the_database_integer() -> None:
    rows = [
        "A,Ok,2147483647",  # line 2: the largest a PostgreSQL integer holds
        "B,Underscore,1_000",
        "C,Plus,+5",
        "D,Too big,2147483648",
        "E,Far too big,99999999999999999999999",
        "F,Arabic digits,١٢",
        "G,Negative,-3",
        "H,Fullwidth,１２",
        "I,Thousands,1 000",
    ]
    with pytest.raises(ImportFailed) as failed:
        parse_items_csv("sku,name,stock\n" + "\n".join(rows) + "\n")
    assert failed.value.errors == [
        "line 3: stock '1_000' is not a whole number",
        "line 4: stock '+5' is not a whole number",
        f"line 5: stock 2147483648 is more than {MAX_STOCK}",
        f"line 6: stock 99999999999999999999999 is more than {MAX_STOCK}",
        "line 7: stock '١٢' is not a whole number",
        "line 8: stock cannot be negative",
        "line 9: stock '１２' is not a whole number",
        "line 10: stock '1 000' is not a whole number",
    ]
    [row] = parse_items_csv("sku,name,stock\nA,Ok,2147483647\n")
    assert row.stock == MAX_STOCK == 2**31 - 1


def test_a_huge_stock_figure_is_cut_in_its_message() -> None:
    with pytest.raises(ImportFailed) as failed:
        parse_items_csv(f"sku,name,stock\nA,Huge,{'9' * 5000}\n")
    [error] = failed.value.errors
    assert error.startswith("line 2: stock 9999999999") and error.endswith(f"than {MAX_STOCK}")
    assert len(error) < 100


async def test_a_stock_figure_whose_movement_would_overflow_imports_nothing(world: World) -> None:
    await stock(world, ("A", "Short", 0), ("B", "Other", 3))
    async with world.app.sessionmaker() as session, session.begin():
        item = (
            await session.execute(select(InventoryItem).where(InventoryItem.sku == "A"))
        ).scalar_one()
        session.add(
            InventoryTransaction(
                item_id=item.id,
                kind=TransactionKind.ISSUE,
                quantity=-5,
                status=TransactionStatus.COMMITTED,
                reason="issued while short",
                created_at=world.app.clock.now(),
                committed_at=world.app.clock.now(),
            )
        )
    rows = [ImportRow(2, "B", "Other", "pcs", 7), ImportRow(3, "A", "Short", "pcs", MAX_STOCK)]
    with pytest.raises(ImportFailed) as failed:
        await world.app.inventory.import_rows(rows)
    assert failed.value.errors == [
        f"line 3: stock {MAX_STOCK} against the ledger's -5 is a movement of {MAX_STOCK + 5}, "
        f"more than {MAX_STOCK}"
    ]
    async with world.app.sessionmaker() as session:
        figures = dict(
            (await session.execute(select(InventoryItem.sku, InventoryItem.stock))).all()
        )
        moves = await session.scalar(select(func.count()).select_from(InventoryTransaction))
    assert figures == {"A": 0, "B": 3}  # B's line came first and was not applied either
    assert moves == 2  # B's receipt and the issue: nothing from this import


# -- assignment ---------------------------------------------------------------------------------

MANAGER, OTHER_REQUESTER, BOTH, KEEPER, BOTH_KEEPER = 201, 101, 301, 401, 302


async def user_ids(world: World) -> dict[int, int]:
    async with world.app.sessionmaker() as session:
        users = (await session.execute(select(User))).unique().scalars()
        return {u.telegram_id: u.id for u in users}


async def assignee(world: World, request_id: int) -> int | None:
    async with world.app.sessionmaker() as session:
        request = await session.get(Request, request_id)
        assert request is not None
        return request.assignee_id


async def test_least_loaded_assignment_never_picks_the_requester(world: World) -> None:
    await stock(world, ("P-1", "Paper", 10))
    await person(world, MANAGER, Role.MANAGER)
    await person(world, OTHER_REQUESTER, Role.REQUESTER)
    # A manager and storekeeper who also asks for things; registered before the keeper.
    await person(world, BOTH, Role.MANAGER, Role.STOREKEEPER)
    await person(world, KEEPER, Role.STOREKEEPER)
    await world.app.users.ensure_admins()
    ids = await user_ids(world)
    # The other manager carries one request; BOTH carries none: the least loaded by far.
    first = await world.app.requests.create(ids[OTHER_REQUESTER], [Line(1, 1)])
    assert await assignee(world, first.id) == ids[MANAGER]

    own = await world.app.requests.create(ids[BOTH], [Line(1, 1)])
    assert await assignee(world, own.id) == ids[MANAGER]  # not BOTH, though less loaded
    # Approved on to the warehouse: BOTH and the keeper both carry nothing; BOTH comes first.
    approved = await world.app.requests.approve(own.id, ids[MANAGER], own.version)
    assert await assignee(world, approved.id) == ids[KEEPER]
    # An admin resets it to the manager stage, and forces it forward again: the same rule.
    reset = await world.app.actions.apply(
        own.id, RecoveryAction.RESET, ids[ADMIN_TG_ID], approved.version, "recount"
    )
    assert reset.outcome is RecoveryOutcome.APPLIED
    assert await assignee(world, own.id) == ids[MANAGER]
    assert reset.request is not None
    forward = await world.app.actions.apply(
        own.id, RecoveryAction.FORCE_TRANSITION, ids[ADMIN_TG_ID], reset.request.version, "ok"
    )
    assert forward.outcome is RecoveryOutcome.APPLIED
    assert await assignee(world, own.id) == ids[KEEPER]


async def test_a_requester_who_alone_holds_the_role_leaves_it_unassigned(world: World) -> None:
    await stock(world, ("P-1", "Paper", 10))
    await person(world, BOTH, Role.MANAGER)
    ids = await user_ids(world)
    own = await world.app.requests.create(ids[BOTH], [Line(1, 1)])
    assert await assignee(world, own.id) is None


# -- the outbox's last error ---------------------------------------------------------------

PHONE = "+1 415 555 0199"
LONG_TOKEN = "7123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9"


async def test_a_telegram_error_is_stored_masked(world: World) -> None:
    await person(world, 500, Role.REQUESTER)
    await person(world, 501, Role.REQUESTER)
    async with world.app.sessionmaker() as session, session.begin():
        users = (await session.execute(select(User).order_by(User.id))).unique().scalars()
        recipients = [u.id for u in users]
    async with world.app.sessionmaker() as session, session.begin():
        for n, recipient in enumerate(recipients):
            await enqueue(
                session,
                recipient_id=recipient,
                payload=RequestCompleted(request_id=n + 1, workflow="inventory_request"),
                idempotency_key=f"k{n}",
                now=world.app.clock.now(),
            )
    # The bot's own token (a configured secret), another token and a phone in the descriptions.
    told = f"Bad Request: can't parse entities near 42:TEST-TOKEN and {LONG_TOKEN}, {PHONE}"
    world.session.refuse_next(
        SendMessage, TelegramBadRequest(SendMessage(chat_id=1, text="x"), told)
    )
    world.session.refuse_next(
        SendMessage, TelegramServerError(SendMessage(chat_id=1, text="x"), f"Bad Gateway {PHONE}")
    )
    assert await world.deliver() == 0
    async with world.app.sessionmaker() as session:
        rows = (
            (await session.execute(select(PendingNotification).order_by(PendingNotification.id)))
            .unique()
            .scalars()
            .all()
        )
    assert {r.status for r in rows} == {NotificationStatus.DEAD, NotificationStatus.RETRYING}
    for row in rows:
        assert row.last_error is not None
        for secret in ("TEST-TOKEN", LONG_TOKEN, "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9", PHONE):
            assert secret not in row.last_error, row.last_error
        assert "***" in row.last_error
    dead = next(r for r in rows if r.status is NotificationStatus.DEAD)
    assert dead.last_error is not None
    assert dead.last_error.startswith("TelegramBadRequest: Telegram server says - Bad Request")
