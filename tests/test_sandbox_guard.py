"""Only the sandbox's own page can drive it: another web page (a form it posts, a fetch, a DNS
rebinding name for 127.0.0.1) is refused by Host, Origin and content type, and the local Bot
API's token is new every run, so no page can act as the bot either."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from simulators.local_api import LocalBotAPI
from simulators.local_api.guard import host_allowed
from simulators.sandbox.world import Sandbox
from tests.support.sandbox import sandbox_in

ANNA = 1001
PAGE_POSTS = [
    ("/api/send", {"person": ANNA, "text": "/start"}),
    ("/api/press", {"person": ANNA, "message_id": 1, "data": "x"}),
    ("/api/people", {"name": "Eve", "role": "employee", "language": "en"}),
    ("/api/language", {"person": ANNA, "language": "es"}),
    ("/api/fault", {"kind": "outage", "seconds": 30}),
    ("/api/calm", {}),
    ("/api/clock", {"minutes": 60}),
]


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    async with sandbox_in(tmp_path / "sandbox", demo=False) as sandbox:
        yield sandbox


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, url, **kwargs) as response:
        return response.status, await response.json(content_type=None)


def base(sandbox: Sandbox) -> str:
    return f"http://127.0.0.1:{sandbox.api.port}"


async def test_a_foreign_host_name_is_refused(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    """DNS rebinding: evil.example resolves to 127.0.0.1, the browser sends its name."""
    port = sandbox.api.port
    token = sandbox.api.token
    for host in (f"evil.example:{port}", "127.0.0.1:1", f"127.0.0.1.nip.io:{port}"):
        headers = {"Host": host}
        for method, path, kwargs in [
            ("GET", "/", {}),
            ("GET", f"/api/state?person={ANNA}", {}),
            ("POST", "/api/send", {"json": {"person": ANNA, "text": "/start"}}),
            ("POST", f"/bot{token}/sendMessage", {"data": {"chat_id": "424242", "text": "x"}}),
        ]:
            url = base(sandbox) + path
            status, body = await call(http, method, url, headers=headers, **kwargs)
            assert status == 421, (host, path, body)
    assert sandbox.api.updates == []  # nothing reached the people's side
    assert not [c for c in sandbox.api.calls if c.params.get("chat_id") == 424242]


async def test_another_pages_origin_is_refused(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    own = base(sandbox)
    mark = len(sandbox.api.calls)
    for origin in ("http://evil.example", "null", f"https://127.0.0.1:{sandbox.api.port}"):
        headers = {"Origin": origin}
        for path, body in PAGE_POSTS:
            status, answer = await call(http, "POST", own + path, json=body, headers=headers)
            assert (status, answer) == (
                403,
                {"error": "requests from other web pages are refused"},
            )
        status, answer = await call(
            http,
            "POST",
            f"{own}/bot{sandbox.api.token}/sendMessage",
            data={"chat_id": str(ANNA), "text": "from another page"},
            headers=headers,
        )
        assert status == 403 and answer["ok"] is False
    assert sandbox.api.updates == []
    assert not [c for c in sandbox.api.calls[mark:] if c.method == "sendMessage"]
    # The page's own origin, and no Origin at all (a plain GET, the bot): answered.
    status, _ = await call(http, "POST", own + "/api/calm", json={}, headers={"Origin": own})
    assert status == 200
    localhost = f"http://localhost:{sandbox.api.port}"
    status, _ = await call(http, "POST", own + "/api/calm", json={}, headers={"Origin": localhost})
    assert status == 200


async def test_the_page_endpoints_take_json_only(
    sandbox: Sandbox, http: aiohttp.ClientSession
) -> None:
    own = base(sandbox)
    for path, body in PAGE_POSTS:
        form = {k: str(v) for k, v in body.items()}
        status, answer = await call(http, "POST", own + path, data=form)
        assert status == 415, (path, answer)
        assert answer == {"error": "send a JSON object with Content-Type: application/json"}
        status, answer = await call(http, "POST", own + path)  # no body at all
        assert status == 415, (path, answer)
        text = {"data": "{}", "headers": {"Content-Type": "text/plain"}}
        status, answer = await call(http, "POST", own + path, **text)
        assert status == 415, (path, answer)
        status, answer = await call(http, "GET", own + path)
        assert status == 405, (path, answer)
    assert sandbox.api.updates == []
    assert sandbox.faults_now() == []


async def test_the_token_is_new_every_run(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    tokens = []
    for _ in range(2):
        async with sandbox_in(tmp_path / "sandbox", demo=False) as sandbox:
            token = sandbox.api.token
            bot_id, secret = token.split(":", 1)
            assert bot_id == "777000" and len(secret) >= 32
            assert token == sandbox.app.settings.require_token()  # the bot uses it
            # The old fixed token, or the previous run's, is refused.
            for wrong in ("777000:SANDBOX", *tokens):
                status, _ = await call(http, "POST", f"{base(sandbox)}/bot{wrong}/getMe")
                assert status == 401
            status, answer = await call(http, "POST", f"{base(sandbox)}/bot{token}/getMe")
            assert status == 200 and answer["result"]["id"] == 777000
            # The page never learns it.
            _, state = await call(http, "GET", f"{base(sandbox)}/api/state?person={ANNA}")
            assert secret not in str(state)
            tokens.append(token)
    assert tokens[0] != tokens[1]


async def test_aiogram_still_drives_the_local_api() -> None:
    """The bot's side of the server (form and multipart posts, no Origin) is unchanged."""
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    async with LocalBotAPI("42:GUARDED") as api:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
        bot = Bot("42:GUARDED", session=session)
        try:
            assert (await bot.get_me()).id == 42
            sent = await bot.send_message(7, "hello", reply_markup=None)
            assert sent.text == "hello"
        finally:
            await bot.session.close()


@pytest.mark.parametrize(
    ("bound", "host", "port", "allowed"),
    [
        ("127.0.0.1", "127.0.0.1", 8090, True),
        ("127.0.0.1", "localhost", 8090, True),
        ("127.0.0.1", "LOCALHOST", 8090, True),
        ("127.0.0.1", "::1", 8090, True),
        ("127.0.0.1", "127.0.0.1", 8091, False),
        ("127.0.0.1", "127.0.0.1", None, False),  # port 80 implied
        ("127.0.0.1", "evil.example", 8090, False),
        ("127.0.0.1", None, 8090, False),
        ("0.0.0.0", "192.168.1.20", 8090, True),
        ("0.0.0.0", "localhost", 8090, True),
        ("0.0.0.0", "rebound.example", 8090, False),
        ("192.168.1.20", "192.168.1.20", 8090, True),
        ("192.168.1.20", "127.0.0.1", 8090, False),
    ],
)
def test_which_hosts_are_the_servers_own(
    bound: str, host: str | None, port: int | None, allowed: bool
) -> None:
    assert host_allowed(bound, 8090, host, port) is allowed
