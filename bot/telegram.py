"""The Telegram circuit breaker, as an aiogram request middleware around every Bot API call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType

from core.context import HANDLING_UPDATE
from utils.circuit_breaker import CircuitBreaker

TELEGRAM_BREAKER = "telegram"
# A reply told "retry after N s" waits that long and tries again, up to this wait in all: past
# it the person is better served by the error reply (and the chaos run counts the loss).
REPLY_RETRY_MAX_SECONDS = 60.0


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
            # Long polling has its own backoff and is how we notice Telegram is back: the
            # replies to the updates it brings must not meet a breaker still waiting out its
            # reset (they were lost: the chaos run's tg_outage).
            response = await make_request(bot, method)
            self.breaker.record_evidence()
            return response
        async with self.breaker:
            started = self.timer()
            try:
                return await make_request(bot, method)
            finally:
                # Failed calls count too: a Telegram that answers slowly with errors is slow.
                self.on_latency(type(method).__name__, self.timer() - started)


class ReplyRetryMiddleware(BaseRequestMiddleware):
    """A reply to the update being handled that gets a 429 waits Telegram's `retry_after` and
    is sent again: without it a flood-limited chat got neither the reply nor the error
    message (which hit the same 429). The outbox's sends are not in an update and keep their
    own schedule; getUpdates has its own backoff."""

    def __init__(
        self,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_wait: float = REPLY_RETRY_MAX_SECONDS,
    ) -> None:
        self.sleep = sleep
        self.max_wait = max_wait

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if isinstance(method, GetUpdates) or not HANDLING_UPDATE.get():
            return await make_request(bot, method)
        waited = 0.0
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if waited + exc.retry_after > self.max_wait:
                    raise
                waited += exc.retry_after
                await self.sleep(float(exc.retry_after))
