"""Handlers are declared once at import time but registered on a fresh Router for every
dispatcher (a Router can belong to only one), so the dispatcher factory stays pure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Filter

Handler = Callable[..., Any]


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
        router.message.filter(F.chat.type == ChatType.PRIVATE)
        if self.access is not None:
            router.message.filter(self.access)
            router.callback_query.filter(self.access)
        for observer, handler, filters in self._entries:
            router.observers[observer].register(handler, *filters)
        return router
