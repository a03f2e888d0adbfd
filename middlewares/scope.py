"""Inner middleware: notes which handler runs, for the error record's "where"."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.types import TelegramObject


class HandlerScopeMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        scope = data.get("handler_scope")
        target: HandlerObject | None = data.get("handler")
        if scope is not None and target is not None:
            callback = target.callback
            scope.name = f"{callback.__module__}.{getattr(callback, '__qualname__', callback)}"
        return await handler(event, data)
