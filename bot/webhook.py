"""Webhook updates at least once, handled once.

aiogram's `SimpleRequestHandler` answers Telegram 200 before handling (in the background), so
a process stopped mid-update lost it: Telegram never sends an answered update again. Here the
200 goes only after the update was handled (its transactions committed); anything else —
another delivery of it in progress, too many updates in hand, shutting down, cancelled at the
drain's deadline — is answered 503, and Telegram delivers the update again, here or on another
replica.

Each update is claimed in `handled_updates` (database/repositories/updates.py) before it is
handled: a second delivery of a handled update_id is answered 200 without handling it; one
whose claim is fresh is answered 503; a claim older than WEBHOOK_CLAIM_SECONDS (its process
died) is taken over. A cancelled handling releases its claim so the redelivery is handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, TypeVar

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from database.repositories import updates
from database.repositories.updates import Claim

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
T = TypeVar("T")


async def _uncancelled(step: Coroutine[Any, Any, T]) -> T:
    """Run a claim's database step to its end even if the caller is cancelled meanwhile (the
    cancellation is raised after it), so a claim is never half known."""
    running = asyncio.ensure_future(step)
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):  # its failure is moot: the caller is cancelled
            await running
        raise


def _answer(status: int) -> web.Response:
    # Telegram reads only the status: 2xx = delivered, anything else = deliver again later.
    return web.json_response({}, status=status)


class WebhookUpdates:
    """The webhook's request handler: one per process, drained on SIGTERM (`drain`)."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: Bot,
        *,
        secret: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        max_updates: int,
        claim_seconds: float,
        token: Callable[[], str] = lambda: secrets.token_hex(16),
    ) -> None:
        self.dispatcher = dispatcher
        self.bot = bot
        self.secret = secret
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.max_updates = max_updates
        self.claim_age = timedelta(seconds=claim_seconds)
        self.token = token
        self.in_hand: set[asyncio.Task[int]] = set()
        self.draining = False

    def register(self, web_app: web.Application, path: str) -> None:
        web_app.router.add_post(path, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        if not secrets.compare_digest(request.headers.get(SECRET_HEADER, ""), self.secret):
            return web.Response(body="Unauthorized", status=401)
        if self.draining or len(self.in_hand) >= self.max_updates:
            # Shutting down, or as many in hand as allowed: Telegram tries again (another
            # replica, or this one a little later) instead of a queue without a bound.
            return _answer(503)
        # The slot is taken before the first await, so the bound holds exactly.
        task: asyncio.Task[int] = asyncio.create_task(self._take(request))
        self.in_hand.add(task)
        task.add_done_callback(self.in_hand.discard)
        # `wait` leaves the task alone if this request is cancelled (client gone): the update
        # is still handled to its commit, and the drain still waits for it.
        await asyncio.wait([task])
        if task.cancelled():  # by the drain's deadline: unanswered, so delivered again
            return _answer(503)
        return _answer(task.result())

    async def _take(self, request: web.Request) -> int:
        try:
            update: dict[str, Any] = await request.json(loads=self.bot.session.json_loads)
            update_id = int(update["update_id"])
        except (ValueError, KeyError, TypeError):
            return 400  # not an update: Telegram never sends this
        token = self.token()
        try:
            claim = await _uncancelled(self._claim(update_id, token))
        except asyncio.CancelledError:
            # Cancelled while claiming: the claim is settled first, then let go.
            await self._settle(update_id, token, done=False)
            raise
        except (SQLAlchemyError, OSError) as exc:
            # The database is down: handle it unclaimed, as before, so the person still hears
            # the bot (that it is unavailable); no second delivery is expected after a 200.
            logger.warning("update %s handled without a claim: %s", update_id, exc)
            await self._feed(update)
            return 200
        if claim is Claim.DONE:
            return 200  # another delivery handled it: nothing to do again
        if claim is Claim.BUSY:
            return 503  # another delivery is handling it right now
        try:
            await self._feed(update)
        except asyncio.CancelledError:
            await self._settle(update_id, token, done=False)
            raise
        try:
            await _uncancelled(self._settle(update_id, token, done=True))
        except asyncio.CancelledError:
            # Handled and marked: the drain's deadline came too late to undo it, so answer 200
            # (a 503 would have Telegram deliver an update whose claim says done: harmless,
            # but a 200 is the truth).
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
        return 200

    async def _feed(self, update: dict[str, Any]) -> None:
        try:
            result = await self.dispatcher.feed_raw_update(self.bot, update)
            if isinstance(result, TelegramMethod):
                await self.dispatcher.silent_call_request(self.bot, result)
        except Exception:
            # The error middleware records what handlers raise; what still escapes is logged
            # and counted as handled, as aiogram did: a redelivery would fail the same way.
            logger.exception("update %s failed", update.get("update_id"))

    async def _claim(self, update_id: int, token: str) -> Claim:
        now = self.clock.now()
        async with self.sessionmaker() as session, session.begin():
            return await updates.claim(session, update_id, token, now, now - self.claim_age)

    async def _settle(self, update_id: int, token: str, *, done: bool) -> None:
        """Mark the update handled, or release its claim so its redelivery is handled."""
        try:
            async with self.sessionmaker() as session, session.begin():
                if done:
                    kept = await updates.finish(session, update_id, token, self.clock.now())
                else:
                    kept = await updates.release(session, update_id, token)
        except (SQLAlchemyError, OSError) as exc:
            # A claim left unfinished is taken over once stale (WEBHOOK_CLAIM_SECONDS).
            logger.warning("update %s: claim not settled: %s", update_id, exc)
            return
        if not kept:
            logger.warning("update %s: claim taken over by another delivery meanwhile", update_id)

    async def drain(self, seconds: float) -> int:
        """Stop taking updates (503 from now on), let those in hand finish for up to `seconds`,
        then cancel the rest (unanswered: Telegram delivers them again). Returns how many
        were cancelled."""
        self.draining = True
        pending = set(self.in_hand)
        if not pending:
            return 0
        logger.info("draining %d webhook updates (at most %.1f s)", len(pending), seconds)
        _, late = await asyncio.wait(pending, timeout=seconds)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)  # their claims are released
        if late:
            logger.warning("%d webhook updates cancelled at the drain's deadline", len(late))
        return len(late)
