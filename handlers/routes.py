"""Handlers are declared once at import time but registered on a fresh Router for every
dispatcher (a Router can belong to only one), so the dispatcher factory stays pure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram import F, Router
from aiogram.enums import ChatType

Handler = Callable[..., Any]


class RouteTable:
    def __init__(self, name: str) -> None:
        self.name = name
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
        router.message.filter(F.chat.type == ChatType.PRIVATE)
        for observer, handler, filters in self._entries:
            router.observers[observer].register(handler, *filters)
        return router
