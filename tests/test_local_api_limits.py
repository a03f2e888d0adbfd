"""The local Bot API server judges Telegram's flood limits strictly: a sliding one-second window
from each request's arrival, per chat and overall, answered with 429 and `retry_after`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter

from simulators.local_api import LocalBotAPI
from simulators.local_api.limits import FloodLimits

TOKEN = "123456:LIMITS"


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def api(time: FakeTime) -> AsyncIterator[LocalBotAPI]:
    async with LocalBotAPI(TOKEN) as server:
        server.limits = (30, 1)
        server.flood = FloodLimits(clock=time)
        yield server


@pytest.fixture
async def bot(api: LocalBotAPI) -> AsyncIterator[Bot]:
    session = AiohttpSession()
    session.api = TelegramAPIServer.from_base(api.base_url)
    bot = Bot(TOKEN, session=session)
    yield bot
    await session.close()


async def test_two_messages_to_one_chat_950_ms_apart_get_a_429(
    api: LocalBotAPI, bot: Bot, time: FakeTime
) -> None:
    await bot.send_message(chat_id=7, text="first")
    time.now += 0.95
    with pytest.raises(TelegramRetryAfter) as refused:
        await bot.send_message(chat_id=7, text="second")
    assert refused.value.retry_after == 1
    [limited] = api.limited
    assert limited.response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    await bot.send_message(chat_id=8, text="another chat is not held back")
    time.now += 0.05  # exactly one second after the first: its window is over
    await bot.send_message(chat_id=7, text="second, again")
    assert [c.text for c in api.calls_of("sendMessage") if c.ok] == [
        "first",
        "another chat is not held back",
        "second, again",
    ]


async def test_the_31st_message_inside_one_second_gets_a_429(
    api: LocalBotAPI, bot: Bot, time: FakeTime
) -> None:
    for chat in range(30):
        await bot.send_message(chat_id=chat, text="x")
        time.now += 0.03  # 30 in 0.87 s
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(chat_id=99, text="31st")
    time.now = 1001.0  # the first send's second is over: one slot is free again
    await bot.send_message(chat_id=99, text="31st, again")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(chat_id=100, text="but only one")
    assert len(api.limited) == 2


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    flood = FloodLimits()
    assert flood.over((1, 1), 10.0, "a") is None
    assert flood.over((1, 1), 10.2, "b") == 1  # free again at 11.0: 0.8 s, rounded up
    assert flood.over((0.5, 1), 20.0, "a") is None  # below one a second: one per window


def test_a_refused_send_does_not_count() -> None:
    flood = FloodLimits()
    assert flood.over((30, 1), 10.0, "a") is None
    assert flood.over((30, 1), 10.5, "a") == 1
    assert flood.over((30, 1), 11.0, "a") is None  # the refused one at 10.5 made no message


def test_sends_judged_out_of_arrival_order_still_count_by_arrival() -> None:
    flood = FloodLimits()
    assert flood.over((30, 1), 10.4, "a") is None
    assert flood.over((30, 1), 10.0, "b") is None  # a slow request, judged after a later one
    assert flood.over((30, 1), 10.9, "b") == 1
    assert flood.over((30, 1), 11.4, "a") is None


async def test_without_limits_nothing_is_refused(api: LocalBotAPI, bot: Bot) -> None:
    api.limits = None
    for _ in range(5):
        await bot.send_message(chat_id=7, text="x")
    assert api.limited == []
