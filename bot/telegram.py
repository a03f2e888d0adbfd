"""The Telegram circuit breaker, as an aiogram request middleware around every Bot API call."""

from __future__ import annotations

import time
from collections.abc import Callable

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramNetworkError, TelegramServerError
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType

from utils.circuit_breaker import CircuitBreaker

TELEGRAM_BREAKER = "telegram"


def telegram_unreachable(exc: BaseException) -> bool:
    """Only a Telegram that does not answer counts; a 400 or a 429 is an answer."""
    return isinstance(exc, TelegramNetworkError | TelegramServerError)


class BreakerRequestMiddleware(BaseRequestMiddleware):
    def __init__(
        self,
        breaker: CircuitBreaker,
        on_latency: Callable[[str, float], None] = lambda method, seconds: None,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.breaker = breaker
        self.on_latency = on_latency  # (API method, seconds): health and /metrics read it
        self.timer = timer

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        polling = isinstance(method, GetUpdates)
        if polling:
            # Long polling has its own backoff and is how we notice Telegram is back.
            return await make_request(bot, method)
        async with self.breaker:
            started = self.timer()
            try:
                return await make_request(bot, method)
            finally:
                # Failed calls count too: a Telegram that answers slowly with errors is slow.
                self.on_latency(type(method).__name__, self.timer() - started)
