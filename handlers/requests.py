"""/new_request (choose items, quantities, submit) and /my_requests.

Long names and many lines are fitted, not refused (core/fitting.py): a draft of MAX_LINES lines
of the longest names still shows with its Submit button, and /my_requests gives each request on
its page an equal share of the message."""

from __future__ import annotations

import math
from html import escape
from typing import Any

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from core.fitting import MESSAGE_LIMIT, NAME_LIMIT, clip, fit_text, item_lines, size
from core.names import stage_title, status_name
from core.settings import Settings
from core.workflows import WorkflowRegistry
from database.models import User
from handlers.callbacks import DraftAction, DraftCallback, ItemPage, ItemPick, MyRequestsPage
from handlers.edits import safe_edit_text
from handlers.keyboards import draft_keyboard, items_keyboard, my_requests_keyboard
from handlers.routes import RouteTable
from handlers.states import NewRequest
from services.inventory import InventoryService
from services.requests import MAX_LINES, Line, RequestService

routes = RouteTable(__name__)

MY_REQUESTS_PAGE_SIZE = 5


async def show_items(
    target: Message, inventory: InventoryService, settings: Settings, page: int, *, edit: bool
) -> bool:
    """Show one page of items; False when there is nothing to choose from."""
    size = settings.items_page_size
    items, total = await inventory.page(page, size)
    pages = max(1, math.ceil(total / size))
    if total == 0:
        await target.answer(
            _("There are no items to request yet. Ask an operator to import the item list.")
        )
        return False
    if not items:  # a stale page number after items were removed: start over
        page = 0
        items, total = await inventory.page(0, size)
    text = _("Choose an item (page {page} of {pages}):").format(page=page + 1, pages=pages)
    markup = items_keyboard(items, page, pages)
    if edit:
        await safe_edit_text(target, text, reply_markup=markup)
    else:
        await target.answer(text, reply_markup=markup)
    return True


def draft_text(lines: list[dict[str, Any]], after: str = "") -> str:
    """The draft's lines under its head, and `after` (the submitted note) kept whole."""
    head = _("Your request so far:")
    tail = "\n\n" + after if after else ""
    budget = MESSAGE_LIMIT - size(head) - 1 - size(tail)
    return f"{head}\n{item_lines(lines, budget)}{tail}"


@routes.message(Command("new_request"))
async def new_request(
    message: Message, state: FSMContext, inventory: InventoryService, settings: Settings
) -> None:
    await state.clear()
    if await show_items(message, inventory, settings, 0, edit=False):
        await state.set_state(NewRequest.choosing_item)
        await state.update_data(lines=[])


@routes.callback_query(NewRequest.choosing_item, ItemPage.filter())
async def items_page(
    query: CallbackQuery,
    callback_data: ItemPage,
    inventory: InventoryService,
    settings: Settings,
) -> None:
    if isinstance(query.message, Message):
        await show_items(query.message, inventory, settings, max(0, callback_data.page), edit=True)


@routes.callback_query(NewRequest.choosing_item, ItemPick.filter())
async def item_picked(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    callback_data: ItemPick,
    state: FSMContext,
    inventory: InventoryService,
) -> None:
    item = await inventory.get(callback_data.item_id)
    if item is None or not item.is_active:
        callback_answer.text = _("That item is no longer available.")
        callback_answer.show_alert = True
        return
    await state.update_data(item_id=item.id)
    await state.set_state(NewRequest.entering_quantity)
    await safe_edit_text(
        query.message,
        _("How many of {item} do you need? In stock: {stock} {unit}. Send a number.").format(
            item=escape(item.name), stock=item.stock, unit=escape(item.unit)
        ),
    )


@routes.message(NewRequest.entering_quantity, F.text)
async def quantity_entered(
    message: Message,
    state: FSMContext,
    requests: RequestService,
    inventory: InventoryService,
) -> None:
    quantity = requests.check_quantity(message.text or "")
    data = await state.get_data()
    item = await inventory.get(int(data["item_id"]))
    if item is None or not item.is_active:
        await state.set_state(NewRequest.choosing_item)
        await message.answer(_("That item is no longer available."))
        return
    lines: list[dict[str, Any]] = list(data.get("lines", []))
    for line in lines:
        if line["item_id"] == item.id:
            line["quantity"] += quantity
            break
    else:
        lines.append(
            {"item_id": item.id, "name": item.name, "unit": item.unit, "quantity": quantity}
        )
    await state.update_data(lines=lines, item_id=None)
    await state.set_state(NewRequest.reviewing)
    await message.answer(draft_text(lines), reply_markup=draft_keyboard())


@routes.message(NewRequest.entering_quantity)
async def quantity_not_text(message: Message) -> None:
    await message.answer(_("Please send the quantity as a whole number, for example 3."))


@routes.callback_query(NewRequest.reviewing, DraftCallback.filter(F.action == DraftAction.ADD))
async def add_another(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    state: FSMContext,
    inventory: InventoryService,
    settings: Settings,
) -> None:
    data = await state.get_data()
    if len(data.get("lines", [])) >= MAX_LINES:
        callback_answer.text = _("A request can hold at most {count} items.").format(
            count=MAX_LINES
        )
        callback_answer.show_alert = True
        return
    if isinstance(query.message, Message) and await show_items(
        query.message, inventory, settings, 0, edit=True
    ):
        await state.set_state(NewRequest.choosing_item)


@routes.callback_query(NewRequest.reviewing, DraftCallback.filter(F.action == DraftAction.CONFIRM))
async def submit(
    query: CallbackQuery,
    state: FSMContext,
    user: User,
    requests: RequestService,
    workflows: WorkflowRegistry,
    locale: str,
) -> None:
    data = await state.get_data()
    lines = [Line(int(x["item_id"]), int(x["quantity"])) for x in data.get("lines", [])]
    request = await requests.create(user.id, lines)
    await state.clear()
    stage = stage_title(workflows, request.workflow, request.stage, locale)
    if request.assignee is not None:
        text = _("Request #{request_id} is submitted. It is now at {stage}, with {assignee}.")
    else:
        text = _(
            "Request #{request_id} is submitted. It is now at {stage}; nobody holds that role "
            "yet, so an admin has to assign someone."
        )
    text = text.format(
        request_id=request.id,
        stage=stage,
        assignee=escape(request.assignee.display_name) if request.assignee else "",
    )
    await safe_edit_text(query.message, draft_text(data.get("lines", []), text))


@routes.callback_query(DraftCallback.filter(F.action == DraftAction.CANCEL))
async def cancel_draft(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await safe_edit_text(query.message, _("Cancelled. Nothing was saved."))


@routes.message(Command("my_requests"))
async def my_requests(
    message: Message,
    user: User,
    requests: RequestService,
    workflows: WorkflowRegistry,
    locale: str,
) -> None:
    text, markup = await render_my_requests(user, requests, workflows, locale, 0)
    await message.answer(text, reply_markup=markup)


@routes.callback_query(MyRequestsPage.filter())
async def my_requests_page(
    query: CallbackQuery,
    callback_data: MyRequestsPage,
    user: User,
    requests: RequestService,
    workflows: WorkflowRegistry,
    locale: str,
) -> None:
    text, markup = await render_my_requests(
        user, requests, workflows, locale, max(0, callback_data.page)
    )
    await safe_edit_text(query.message, text, reply_markup=markup)


async def render_my_requests(
    user: User, requests: RequestService, workflows: WorkflowRegistry, locale: str, page: int
) -> tuple[str, Any]:
    rows, total = await requests.for_requester(user.id, page, MY_REQUESTS_PAGE_SIZE)
    if total == 0:
        return _("You have no requests yet. Start one with /new_request."), None
    pages = max(1, math.ceil(total / MY_REQUESTS_PAGE_SIZE))
    if not rows:
        page = 0
        rows, total = await requests.for_requester(user.id, 0, MY_REQUESTS_PAGE_SIZE)
    head = _("Your requests (page {page} of {pages}):").format(page=page + 1, pages=pages)
    share = (MESSAGE_LIMIT - size(head)) // max(1, len(rows)) - 2  # each request its part
    blocks = []
    for request in rows:
        assignee = request.assignee or _("nobody yet")
        lines = [
            {"name": line.name, "quantity": line.quantity, "unit": line.unit}
            for line in request.lines
        ]
        about = _("#{request_id} — {status}\nStage: {stage}\nWith: {assignee}").format(
            request_id=request.id,
            status=status_name(request.status),
            stage=stage_title(workflows, request.workflow, request.stage, locale),
            assignee=escape(clip(assignee, NAME_LIMIT)) if request.stage else "—",
        )
        blocks.append(about + "\n" + item_lines(lines, share - size(about) - 1))
    return fit_text(head, blocks, sep="\n\n"), my_requests_keyboard(page, pages)
