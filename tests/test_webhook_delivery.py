"""Webhook updates at least once, handled once (bot/webhook.py), over real HTTP on 127.0.0.1
on SQLite and PostgreSQL: Telegram's 200 comes after the handling; SIGTERM's drain lets the
updates in hand finish and cancels, unanswered and unclaimed, those past its deadline; the same
update_id delivered twice is handled once; past WEBHOOK_MAX_UPDATES the answer is 503.

The handling is held at its reply (`Gate`, a Bot API request middleware): the reply is the
update's last step, after the person's row is committed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, SendMessage, TelegramMethod
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.http import WEBHOOK_KEY, bound_port, create_web_app, start_http, stop_servers
from core.clock import FrozenClock
from core.settings import Settings, WebhookSettings
from database.models import HandledUpdate, User
from database.repositories import updates
from database.repositories.updates import Claim
from services.retention import UPDATE_RETENTION, cleanup
from tests.conftest import World, make_world

SECRET = "s3cret-token_1"
WES = 555
RIGHT = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


class Gate(BaseRequestMiddleware):
    """Holds every sendMessage until opened; counts the ones held."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.held = 0

    async def __call__(
        self, make_request: NextRequestMiddlewareType[Any], bot: Bot, method: TelegramMethod[Any]
    ) -> Response[Any]:
        if isinstance(method, SendMessage):
            self.held += 1
            await self.open.wait()
        return await make_request(bot, method)


class Hook:
    """A webhook server of one world, and what it answered."""

    def __init__(self, world: World, runner: web.AppRunner, gate: Gate) -> None:
        self.world, self.runner, self.gate = world, runner, gate
        self.url = f"http://127.0.0.1:{bound_port(runner)}/tg/hook"

    async def post(self, update_id: int, text: str = "/start") -> int:
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.url, json=update(update_id, text), headers=RIGHT) as response,
        ):
            return response.status

    def replies(self) -> list[SendMessage]:
        return self.world.session.calls_of(SendMessage)

    async def claims(self) -> dict[int, bool]:
        """update_id → done, as the table holds them."""
        async with self.world.app.sessionmaker() as session:
            rows = (await session.execute(select(HandledUpdate))).scalars().all()
        return {row.id: row.done_at is not None for row in rows}

    async def people(self) -> int:
        async with self.world.app.sessionmaker() as session:
            found = await session.scalars(select(User).where(User.telegram_id == WES))
            return len(found.all())


def update(update_id: int, text: str) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1700000000,
            "chat": {"id": WES, "type": "private", "first_name": "Wes"},
            "from": {"id": WES, "is_bot": False, "first_name": "Wes", "language_code": "en"},
            "text": text,
        },
    }


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(250):  # 5 s at most; each step 20 ms
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


Serve = Callable[..., Awaitable[Hook]]


@pytest.fixture
async def serve(
    settings: Settings, engine: AsyncEngine, clock: FrozenClock
) -> AsyncIterator[Serve]:
    started: list[Hook] = []

    async def start(**webhook: Any) -> Hook:
        hooked = settings.model_copy(
            update={
                "webhook": WebhookSettings(
                    url="https://bot.example.com/tg/hook", secret=SecretStr(SECRET), **webhook
                )
            }
        )
        world = make_world(hooked, engine, clock)
        gate = Gate()
        world.bot.session.middleware(gate)
        runner = await start_http(create_web_app(world.app, world.dp, world.bot), "127.0.0.1", 0)
        started.append(Hook(world, runner, gate))
        return started[-1]

    yield start
    for hook in started:
        hook.gate.open.set()
        await hook.runner.cleanup()
        await hook.world.dp.storage.close()


async def test_sigterm_drains_the_update_in_hand_and_answers_after_it(serve: Serve) -> None:
    hook = await serve(drain_seconds=5)
    answer = asyncio.create_task(hook.post(1))
    await until(lambda: hook.gate.held == 1, "the handling to reach its reply")
    await asyncio.sleep(0.1)
    assert not answer.done()  # no 200 while the update is still being handled

    stopping = asyncio.create_task(stop_servers([hook.runner], drain_seconds=5))
    await until(lambda: hook.runner.app[WEBHOOK_KEY].draining, "the drain to start")
    # Draining: a new update is refused so that Telegram delivers it elsewhere.
    assert await hook.post(2) == 503
    assert not answer.done() and not stopping.done()  # the drain waits for the update

    hook.gate.open.set()
    assert await answer == 200
    await stopping
    [reply] = hook.replies()
    assert reply.chat_id == WES and reply.text.startswith("Hello, Wes!")
    assert await hook.people() == 1
    assert await hook.claims() == {1: True}  # handled; update 2 was never claimed


async def test_past_the_drain_deadline_the_update_is_unanswered_and_comes_again(
    serve: Serve,
) -> None:
    hook = await serve(drain_seconds=0.2)
    answer = asyncio.create_task(hook.post(7))
    await until(lambda: hook.gate.held == 1, "the handling to reach its reply")
    # SIGTERM: the reply never comes; at the deadline the update is cancelled.
    await stop_servers([hook.runner], drain_seconds=0.2)
    assert await answer == 503  # Telegram got no 200: it delivers the update again
    assert hook.replies() == []
    assert await hook.claims() == {}  # the claim was released

    # The redelivery, on the next process (or another replica): handled, once.
    again = await serve()
    again.gate.open.set()
    assert await again.post(7) == 200
    assert [r.chat_id for r in again.replies()] == [WES]
    assert await again.claims() == {7: True}
    assert await again.post(7) == 200  # and a third delivery does nothing
    assert len(again.replies()) == 1


async def test_the_same_update_twice_is_handled_once(serve: Serve) -> None:
    hook = await serve()
    first = asyncio.create_task(hook.post(3))
    await until(lambda: hook.gate.held == 1, "the first delivery to be handled")
    # Delivered again while the first is in hand (Telegram timed out): try later.
    assert await hook.post(3) == 503
    assert await hook.claims() == {3: False}
    hook.gate.open.set()
    assert await first == 200
    # Delivered again after it was handled (a lost 200, a restart): nothing done twice.
    assert await hook.post(3) == 200
    other_replica = await serve()
    other_replica.gate.open.set()
    assert await other_replica.post(3) == 200
    assert len(hook.replies()) == 1 and other_replica.replies() == []
    assert hook.gate.held == 1
    assert await hook.claims() == {3: True}


async def test_a_claim_whose_process_died_is_taken_over(serve: Serve, clock: FrozenClock) -> None:
    hook = await serve(claim_seconds=60)
    hook.gate.open.set()
    async with hook.world.app.sessionmaker() as session, session.begin():
        before = clock.now() - timedelta(seconds=59)
        # A delivery claimed 59 s ago by a process that then died (kill -9): still fresh.
        assert await updates.claim(session, 9, "dead" * 8, before, before) is Claim.TAKEN
    assert await hook.post(9) == 503
    assert hook.replies() == []
    clock.advance(timedelta(seconds=2))  # now 61 s old: stale, taken over
    assert await hook.post(9) == 200
    assert len(hook.replies()) == 1
    assert await hook.claims() == {9: True}
    async with hook.world.app.sessionmaker() as session, session.begin():
        # The dead process's claim is no longer its own: it can neither finish nor release.
        assert not await updates.finish(session, 9, "dead" * 8, clock.now())
        assert not await updates.release(session, 9, "dead" * 8)


async def test_more_updates_than_the_bound_are_refused(serve: Serve) -> None:
    hook = await serve(max_updates=2)
    held = [asyncio.create_task(hook.post(n)) for n in (11, 12)]
    await until(lambda: hook.gate.held == 2, "two updates in hand")
    # The third, and a fourth: answered at once, not queued; Telegram retries them.
    assert await hook.post(13) == 503
    assert await hook.post(14) == 503
    assert await hook.claims() == {11: False, 12: False}
    hook.gate.open.set()
    assert await asyncio.gather(*held) == [200, 200]
    assert await hook.post(13) == 200  # room again
    assert len(hook.replies()) == 3


async def test_cleanup_prunes_old_handled_updates(serve: Serve, clock: FrozenClock) -> None:
    hook = await serve()
    hook.gate.open.set()
    assert await hook.post(21) == 200
    clock.advance(UPDATE_RETENTION - timedelta(minutes=1))
    assert await hook.post(22) == 200
    clock.advance(timedelta(minutes=2))
    result = await cleanup(
        hook.world.app.tx,
        error_retention=timedelta(days=30),
        transaction_log_retention=timedelta(days=90),
    )
    assert result.handled_updates == 1
    assert "1 handled webhook updates" in result.summary()
    assert await hook.claims() == {22: True}


@pytest.mark.parametrize(
    ("name", "value"),
    [("drain_seconds", 0), ("max_updates", 0), ("claim_seconds", -1)],
)
def test_webhook_settings_are_validated(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=name):
        WebhookSettings(**{name: value})
