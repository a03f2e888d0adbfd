"""The local Bot API server's fault windows: what the sandbox's and the chaos run's faults use."""

from __future__ import annotations

import aiohttp

from simulators.local_api import LocalBotAPI
from simulators.local_api.wire import JsonDict

TOKEN = "123456:LOCAL"


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def call(api: LocalBotAPI, method: str, **params: object) -> tuple[int, JsonDict]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{api.base_url}/bot{TOKEN}/{method}", json=params) as answer,
    ):
        return answer.status, await answer.json()


async def test_a_timed_fault_answers_every_call_until_it_ends() -> None:
    ticks = Ticks()
    async with LocalBotAPI(TOKEN) as api:
        api.clock = ticks
        fault = api.fail_for(60, 502)
        assert [await call(api, "getMe") for _ in range(3)] == [
            (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
        ] * 3
        status, _ = await call(api, "sendMessage", chat_id=5, text="hi")
        assert status == 502
        assert len(fault.hits) == 4
        ticks.now += 60
        status, body = await call(api, "getMe")
        assert (status, body["result"]["id"]) == (200, 123456)
        assert api.faults == []


async def test_a_timed_429_for_one_chat_leaves_the_others_alone() -> None:
    ticks = Ticks()
    async with LocalBotAPI(TOKEN) as api:
        api.clock = ticks
        api.fail_for(
            5, 429, method="sendMessage", retry_after=3, match=lambda p: p.get("chat_id") == 7
        )
        assert await call(api, "sendMessage", chat_id=7, text="x") == (
            429,
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 3",
                "parameters": {"retry_after": 3},
            },
        )
        status, body = await call(api, "sendMessage", chat_id=8, text="y")
        assert (status, body["result"]["text"]) == (200, "y")
        api.calm()
        status, _ = await call(api, "sendMessage", chat_id=7, text="x")
        assert status == 200


async def test_counted_faults_still_count_down_and_unknown_methods_are_404() -> None:
    async with LocalBotAPI(TOKEN) as api:
        api.fail_next("getMe", 500, times=2, delay=0.01)
        assert [(await call(api, "getMe"))[0] for _ in range(3)] == [500, 500, 200]
        assert await call(api, "sendSticker", chat_id=1) == (
            404,
            {"ok": False, "error_code": 404, "description": "Not Found: method not found"},
        )
