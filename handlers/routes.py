"""Handlers are declared once at import time but registered on a fresh Router for every
dispatcher (a Router can belong to only one), so the dispatcher factory stays pure.

aiogram runs every filter that is not a coroutine (a magic filter such as `F.text`, an FSM
`State`) through `asyncio.to_thread`: a thread hop for a check of a few attribute reads. The
tables wrap those in `InLoop`, which checks them in the event loop instead."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram import Router
from aiogram.enums import ChatType
from aiogram.filters import Filter
from aiogram.fsm.state import State
from aiogram.types import Message, TelegramObject
from magic_filter import MagicFilter

Handler = Callable[..., Any]


class InLoop(Filter):
    """A synchronous filter (magic filter or FSM state) checked without a thread hop."""

    def __init__(self, check: MagicFilter | State) -> None:
        self.check = check

    async def __call__(self, event: TelegramObject, raw_state: str | None = None) -> Any:
        if isinstance(self.check, State):
            return self.check(event, raw_state)
        return self.check.resolve(event)


class PrivateChat(Filter):
    async def __call__(self, message: Message) -> bool:
        return message.chat.type == ChatType.PRIVATE


def in_loop(check: Any) -> Any:
    return InLoop(check) if isinstance(check, MagicFilter | State) else check


class RouteTable:
    def __init__(self, name: str, *, access: Filter | None = None) -> None:
        """`access`: a router-level filter on every message and button of this table."""
        self.name = name
        self.access = access
        self._entries: list[tuple[str, Handler, tuple[Any, ...]]] = []

    def _on(self, observer: str, filters: tuple[Any, ...]) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            self._entries.append((observer, handler, filters))
            return handler

        return decorator

    def message(self, *filters: Any) -> Callable[[Handler], Handler]:
        return self._on("message", filters)

    def callback_query(self, *filters: Any) -> Callable[[Handler], Handler]:
        return self._on("callback_query", filters)

    def create_router(self) -> Router:
        router = Router(name=self.name)
        # Requests and approvals are personal: the bot talks in private chats only.
        router.message.filter(PrivateChat())
        if self.access is not None:
            router.message.filter(self.access)
            router.callback_query.filter(self.access)
        for observer, handler, filters in self._entries:
            router.observers[observer].register(handler, *map(in_loop, filters))
        return router
