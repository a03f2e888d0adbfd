"""The admin walks /workflow_recovery through the dispatcher and reads the buttons shown."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from simulators.chaos.people import ADMIN, People
from simulators.local_api import LocalBotAPI
from simulators.local_api.wire import JsonDict

Tick = Callable[[], Awaitable[None]]
WAIT_TICKS = 30
MAX_PAGES = 20


def newest(api: LocalBotAPI) -> JsonDict | None:
    found = api.chat_messages(ADMIN.id)
    return found[0] if found else None


def labels(message: JsonDict | None) -> list[str]:
    if message is None:
        return []
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [str(b.get("text")) for row in rows for b in row]


async def _until(tick: Tick, ready: Callable[[], bool]) -> bool:
    for _ in range(WAIT_TICKS):
        if ready():
            return True
        await tick()
    return ready()


async def walk(people: People, tick: Tick, path: list[Callable[[str], bool]]) -> list[str]:
    """Open the menu, press a button matching each of `path` in turn on the newest message;
    returns the buttons of the last screen reached (empty if a step was not there)."""
    api = people.api
    mark = api.mark()
    people.say(ADMIN, "/workflow_recovery")
    if not await _until(tick, lambda: people.replied(ADMIN, "Workflow recovery", mark)):
        return []
    for step in path:
        message = newest(api)
        button = next(
            (
                b
                for row in (message or {}).get("reply_markup", {}).get("inline_keyboard", [])
                for b in row
                if step(str(b.get("text")))
            ),
            None,
        )
        if message is None or button is None:
            return []
        before = labels(message), message.get("text")
        people.click(ADMIN, message, str(button["callback_data"]))
        await _until(tick, lambda seen=before: _screen(api) != seen)  # type: ignore[misc]
    return labels(newest(api))


def _screen(api: LocalBotAPI) -> tuple[list[str], object]:
    return labels(newest(api)), (newest(api) or {}).get("text")


async def stuck_request_has(people: People, tick: Tick, request_id: int, fix: str) -> bool:
    """Stuck workflows, page by page (Next »), until #request_id, then its buttons."""
    wanted = f"#{request_id}"
    shown = await walk(people, tick, [lambda t: t.startswith("Stuck workflows")])
    for _ in range(MAX_PAGES):
        if wanted in shown:
            shown = await press(people, tick, lambda t: t == wanted)
            return any(label.startswith(fix) for label in shown)  # "Reassign · medium risk"
        if not any(label.startswith("Next") for label in shown):
            return False
        shown = await press(people, tick, lambda t: t.startswith("Next"))
    return False


async def press(people: People, tick: Tick, step: Callable[[str], bool]) -> list[str]:
    """Press the button matching `step` on the admin's newest message; the buttons after."""
    api = people.api
    message = newest(api)
    rows = (message or {}).get("reply_markup", {}).get("inline_keyboard", [])
    button = next((b for row in rows for b in row if step(str(b.get("text")))), None)
    if message is None or button is None:
        return []
    before = _screen(api)
    people.click(ADMIN, message, str(button["callback_data"]))
    await _until(tick, lambda: _screen(api) != before)
    return labels(newest(api))


async def finding_has(people: People, tick: Tick, sku: str) -> bool:
    shown = await walk(
        people,
        tick,
        [lambda t: t == "Inventory reconciliation", lambda t: t == "Open findings"],
    )
    return f"Set counted quantity: {sku}" in shown
