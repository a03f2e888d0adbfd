"""An employee's request from /new_request to completion, as people see it in Telegram."""

from __future__ import annotations

from sqlalchemy import select

from core.enums import RequestStatus, Role, TransactionKind, TransitionAction
from database.models import (
    ErrorRecord,
    InventoryItem,
    InventoryTransaction,
    PendingNotification,
    Request,
    RequestTransition,
)
from tests.conftest import World
from tests.factories import person, stock
from tests.support.client import reference_in, strip_reference

REQUESTER, MANAGER, KEEPER = 101, 201, 301


async def setup_people(world: World) -> None:
    await stock(
        world,
        ("P-1", "Paper A4", 10),
        ("P-2", "Pens", 50),
        ("P-3", "Stapler", 2),
        ("P-4", "Tape", 5),
    )
    await person(world, MANAGER, Role.MANAGER)
    await person(world, KEEPER, Role.STOREKEEPER)


async def rows(world: World, model: type) -> list:  # type: ignore[type-arg]
    async with world.app.sessionmaker() as session:
        return list((await session.execute(select(model).order_by(model.id))).unique().scalars())


async def submit_request(world: World, ann_name: str = "Ann") -> None:
    ann = world.client(REQUESTER, ann_name)
    await ann.send("/new_request")
    assert ann.last_reply() == "Choose an item (page 1 of 2):"
    # Items are sorted by name, three per page: Paper A4, Pens, Stapler | Tape.
    assert ann.buttons()[:3] == ["Paper A4 (10 pcs)", "Pens (50 pcs)", "Stapler (2 pcs)"]
    await ann.click("Next »")
    assert ann.buttons()[0] == "Tape (5 pcs)"
    await ann.click("« Previous")
    await ann.click("Paper A4 (10 pcs)")
    assert ann.last_reply() == (
        "How many of Paper A4 do you need? In stock: 10 pcs. Send a number."
    )
    await ann.send("3")
    assert ann.last_reply() == "Your request so far:\n• Paper A4: 3 pcs"
    await ann.click("Add another item")
    await ann.click("Pens (50 pcs)")
    await ann.send("5")
    assert ann.last_reply() == "Your request so far:\n• Paper A4: 3 pcs\n• Pens: 5 pcs"
    await ann.click("Submit request")


async def test_request_walks_from_creation_to_completion(world: World) -> None:
    await setup_people(world)
    manager = world.client(MANAGER, "Max")
    keeper = world.client(KEEPER, "Kim")
    await manager.send("/start")
    await keeper.send("/start")
    await submit_request(world)
    ann = world.client(REQUESTER, "Ann")
    assert world.session.messages  # the submit edit happened
    submitted = [t for t in world.session.calls if getattr(t, "chat_id", None) == REQUESTER]
    assert submitted[-1].text.endswith(
        "Request #1 is submitted. It is now at Manager approval, with Max."
    )

    [request] = await rows(world, Request)
    assert (request.status, request.stage) == (RequestStatus.ACTIVE, "manager_approval")
    assert request.assignee.telegram_id == MANAGER
    assert [(i.item.sku, i.quantity) for i in request.items] == [("P-1", 3), ("P-2", 5)]

    assert await world.deliver() == 1
    assert manager.inbox()[-1] == (
        "Request #1 from Ann waits for your decision (Manager approval):\n"
        "• Paper A4: 3 pcs\n• Pens: 5 pcs"
    )
    await manager.click("Approve")
    assert manager.callback_answers()[0].text == "Done."
    assert manager.last_reply().endswith("✅ Approved. Request #1 moved to Warehouse issue.")

    assert await world.deliver() == 2
    assert ann.inbox()[-1] == "Request #1 was approved and moved to Warehouse issue (Kim)."
    await keeper.click("Approve")
    assert keeper.last_reply().endswith("✅ Request #1 is now completed.")
    await world.deliver()
    assert ann.inbox()[-1] == "Request #1 is completed: the items were issued to you."

    items = {i.sku: i.stock for i in await rows(world, InventoryItem)}
    assert items == {"P-1": 7, "P-2": 45, "P-3": 2, "P-4": 5}
    issues = [
        t for t in await rows(world, InventoryTransaction) if t.kind is TransactionKind.ISSUE
    ]
    assert sorted((t.item_id, t.quantity, t.request_id) for t in issues) == [
        (1, -3, 1),
        (2, -5, 1),
    ]
    transitions = await rows(world, RequestTransition)
    assert [(t.action, t.from_stage, t.to_stage, t.to_status) for t in transitions] == [
        (TransitionAction.CREATE, None, "manager_approval", RequestStatus.ACTIVE),
        (TransitionAction.APPROVE, "manager_approval", "warehouse_issue", RequestStatus.ACTIVE),
        (TransitionAction.APPROVE, "warehouse_issue", None, RequestStatus.COMPLETED),
    ]
    # Every notification went out exactly once.
    assert {n.status.value for n in await rows(world, PendingNotification)} == {"sent"}

    await ann.send("/my_requests")
    assert ann.last_reply() == (
        "Your requests (page 1 of 1):\n\n"
        "#1 — completed\nStage: —\nWith: —\n• Paper A4: 3 pcs\n• Pens: 5 pcs"
    )


async def test_insufficient_stock_is_refused_and_nothing_changes(world: World) -> None:
    await setup_people(world)
    ann = world.client(REQUESTER, "Ann")
    await ann.send("/new_request")
    await ann.click("Stapler (2 pcs)")
    await ann.send("2")
    await ann.click("Submit request")
    # Meanwhile somebody else takes one stapler.
    async with world.app.sessionmaker() as session, session.begin():
        item = await session.execute(select(InventoryItem).where(InventoryItem.sku == "P-3"))
        item.scalar_one().stock = 1
    await world.deliver()
    await world.client(MANAGER).click("Approve")
    await world.deliver()
    keeper = world.client(KEEPER)
    await keeper.click("Approve")
    [answer] = keeper.callback_answers()
    assert reference_in(answer.text) is not None
    assert strip_reference(answer.text) == (
        "Not enough stock of Stapler: 2 requested, 1 available. Nothing was changed."
    )
    assert answer.show_alert is True
    [request] = await rows(world, Request)
    assert (request.status, request.stage) == (RequestStatus.ACTIVE, "warehouse_issue")
    assert [t.kind for t in await rows(world, InventoryTransaction)] == [
        TransactionKind.RECEIPT
    ] * 4
    assert {i.sku: i.stock for i in await rows(world, InventoryItem)}["P-3"] == 1
    assert len(await rows(world, RequestTransition)) == 2


async def test_reject_asks_for_a_reason_and_tells_the_requester(world: World) -> None:
    await setup_people(world)
    await submit_request(world)
    await world.deliver()
    manager = world.client(MANAGER, "Max")
    notification = manager.find_button_message("Reject")
    await manager.click("Reject")
    assert manager.last_reply() == ("Why do you reject request #1? Send the reason, or /cancel.")
    await manager.send("   ")
    assert manager.last_reply() == "Please write a reason for the rejection."
    await manager.send("Budget is frozen")
    assert manager.last_reply() == "Request #1 is rejected. Reason: Budget is frozen"
    await world.deliver()
    assert world.client(REQUESTER).inbox()[-1] == (
        "Request #1 was rejected by Max. Reason: Budget is frozen"
    )
    [request] = await rows(world, Request)
    assert (request.status, request.stage, request.assignee_id) == (
        RequestStatus.REJECTED,
        None,
        None,
    )
    [*_, last] = await rows(world, RequestTransition)
    assert (last.action, last.reason) == (TransitionAction.REJECT, "Budget is frozen")
    # The buttons are gone from the notification; an old copy pressed anyway says why.
    assert manager.buttons() == []
    await manager.click_on(notification, "Approve")
    assert strip_reference(manager.callback_answers()[0].text) == (
        "This request is no longer waiting for that action."
    )


async def test_quantity_is_validated(world: World) -> None:
    await setup_people(world)
    ann = world.client(REQUESTER)
    await ann.send("/new_request")
    await ann.click("Pens (50 pcs)")
    for typed, expected in [
        ("many", "Please send the quantity as a whole number, for example 3."),
        ("2.5", "Please send the quantity as a whole number, for example 3."),
        ("-1", "Please send the quantity as a whole number, for example 3."),
        ("0", "The quantity must be at least 1."),
        ("101", "The quantity cannot be more than 100."),
        ("٣", "Please send the quantity as a whole number, for example 3."),
    ]:
        await ann.send(typed)
        assert ann.last_reply() == expected, typed
    await ann.send("100")
    assert ann.last_reply() == "Your request so far:\n• Pens: 100 pcs"


async def test_cancel_leaves_the_flow_and_saves_nothing(world: World) -> None:
    await setup_people(world)
    ann = world.client(REQUESTER)
    await ann.send("/cancel")
    assert ann.last_reply() == "There is nothing to cancel."
    await ann.send("/new_request")
    await ann.click("Pens (50 pcs)")
    await ann.send("/cancel")
    assert ann.last_reply() == "Cancelled. Nothing was saved."
    await ann.send("4")
    assert ann.last_reply() == "I did not understand that. Send /help to see what I can do."
    assert await rows(world, Request) == []


async def test_requester_cannot_approve_and_others_cannot_decide(world: World) -> None:
    await setup_people(world)
    await person(world, REQUESTER, Role.MANAGER)  # a manager asking for themselves
    await submit_request(world)
    await world.deliver()
    # Only the other manager gets the buttons; a forged press by the requester is refused.
    manager = world.client(MANAGER)
    message = manager.find_button_message("Approve")
    ann = world.client(REQUESTER)
    await ann.press(message, "dc:a:1:1")
    assert strip_reference(ann.callback_answers()[0].text) == (
        "You cannot decide on your own request."
    )
    keeper = world.client(KEEPER)
    await keeper.press(message, "dc:a:1:1")
    assert (
        strip_reference(keeper.callback_answers()[0].text)
        == "Only someone with the manager role can decide on this stage."
    )
    [request] = await rows(world, Request)
    assert request.stage == "manager_approval"


async def test_forged_and_stale_buttons_do_nothing_harmful(world: World) -> None:
    await setup_people(world)
    await submit_request(world)
    await world.deliver()
    manager = world.client(MANAGER)
    message = manager.find_button_message("Approve")
    for forged in ["dc:a:999:1", "dc:x:1:1", "dc:a:1:notanumber", "garbage", "it:1", "dc:a:1:0"]:
        await manager.press(message, forged)
        [answer] = manager.callback_answers()
        assert strip_reference(answer.text) in {
            "Request #999 does not exist.",
            "This button is no longer active. Start again from the menu: /help",
        }, forged
    # Another version than the request's: it changed after the button was made.
    await manager.press(message, "dc:a:1:2")
    assert strip_reference(manager.callback_answers()[0].text) == (
        "The request was changed meanwhile. Please look at it again."
    )
    [request] = await rows(world, Request)
    assert (request.stage, request.version) == ("manager_approval", 1)


async def test_no_items_and_unassigned_stage(world: World) -> None:
    ann = world.client(REQUESTER)
    await ann.send("/new_request")
    assert ann.last_reply() == (
        "There are no items to request yet. Ask an operator to import the item list."
    )
    await stock(world, ("P-1", "Paper A4", 10))
    await ann.send("/new_request")
    await ann.click("Paper A4 (10 pcs)")
    await ann.send("1")
    await ann.click("Submit request")
    assert ann.last_reply().endswith(
        "Request #1 is submitted. It is now at Manager approval; nobody holds that role yet, "
        "so an admin has to assign someone."
    )
    [request] = await rows(world, Request)
    assert request.assignee_id is None


async def test_deactivated_user_is_turned_away(world: World) -> None:
    await person(world, REQUESTER, Role.REQUESTER)
    await world.app.users.set_active(REQUESTER, False)
    ann = world.client(REQUESTER)
    await ann.send("/new_request")
    assert strip_reference(ann.last_reply()) == (
        "Your access to this bot is turned off. Ask an admin."
    )


async def test_group_chats_are_ignored(world: World) -> None:
    ann = world.client(REQUESTER)
    await ann.feed(
        {
            "update_id": 999_001,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": -100, "type": "group", "title": "g"},
                "from": {"id": REQUESTER, "is_bot": False, "first_name": "Ann"},
                "text": "/start",
            },
        }
    )
    assert world.session.calls == []


async def test_a_refused_callback_answer_does_not_hide_committed_work(world: World) -> None:
    """After a backlog Telegram refuses late answers ("query is too old"); the reply stays."""
    from aiogram.exceptions import TelegramBadRequest
    from aiogram.methods import AnswerCallbackQuery

    await setup_people(world)
    ann = world.client(REQUESTER)
    await ann.send("/new_request")
    await ann.click("Pens (50 pcs)")
    await ann.send("2")
    world.session.refuse_next(
        AnswerCallbackQuery,
        TelegramBadRequest(
            method=AnswerCallbackQuery(callback_query_id="x"),
            message="Bad Request: query is too old and response timeout expired",
        ),
    )
    await ann.click("Submit request")
    [_refused] = ann.callback_answers()  # answered once; Telegram's refusal is no failure
    assert world.session.refusals == []
    assert await rows(world, ErrorRecord) == []
    [reply] = ann.replies()  # the submitted draft, edited in place; no error reply
    assert reply.endswith("Request #1 is submitted. It is now at Manager approval, with 201.")
    assert reference_in(reply) is None
    assert len(await rows(world, Request)) == 1
