"""End to end in webhook mode: `python -m bot` as a subprocess with WEBHOOK_URL and
WEBHOOK_SECRET, its HTTP server taking updates the way Telegram posts them, the fake Bot API
receiving setWebhook and the answers. Also `python -m bot health` against both databases."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import aiohttp
import pytest

from bot import cli
from simulators.local_api import FakeUser, LocalBotAPI
from tests.test_e2e import (  # the same harness as the polling end-to-end tests
    ADMIN_ID,
    SETTING_NAMES,
    STARTUP_TIMEOUT,
    STEP_TIMEOUT,
    TOKEN,
    BotProcess,
    api,  # noqa: F401  (fixture)
    database_url,  # noqa: F401  (fixture)
    expect,
    run_cli,
    sent,
    subprocess_env,
)

pytestmark = pytest.mark.e2e

SECRET = "e2e-webhook-secret"
WES = FakeUser(555, "Wes")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def update_from(user: FakeUser, text: str, update_id: int) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user.id, "type": "private", "first_name": user.first_name},
            "from": {
                "id": user.id,
                "is_bot": False,
                "first_name": user.first_name,
                "language_code": "en",
            },
            "text": text,
        },
    }


async def post(url: str, update: dict[str, object], secret: str | None) -> int:
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    async with aiohttp.ClientSession() as http, http.post(url, json=update, headers=headers) as r:
        return r.status


async def test_webhook_mode_end_to_end(
    api: LocalBotAPI,  # noqa: F811
    tmp_path: Path,
    database_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert await run_cli("migrate") == cli.EXIT_OK
    port, internal_port = free_port(), free_port()
    public_url = f"http://127.0.0.1:{port}/telegram/webhook"
    env = subprocess_env(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.base_url,
        DATABASE_URL=database_url,
        ADMIN_IDS=str(ADMIN_ID),
        HTTP_HOST="127.0.0.1",
        HTTP_PORT=str(port),
        HTTP_INTERNAL_PORT=str(internal_port),  # as the README's webhook recipe runs it
        WEBHOOK_URL=public_url,
        WEBHOOK_SECRET=SECRET,
    )
    bot = BotProcess(env, tmp_path)
    try:
        registered = await expect(
            api, bot, lambda c: c.method == "setWebhook", "setWebhook", STARTUP_TIMEOUT
        )
        assert registered.params["url"] == public_url
        assert registered.params["secret_token"] == SECRET
        assert registered.params["allowed_updates"] == ["callback_query", "message"]
        assert api.calls_of("getUpdates") == []  # no polling in webhook mode

        # A wrong secret (or none) is turned away before anything is processed.
        since = api.mark()
        assert await post(public_url, update_from(WES, "/start", 1), "wrong") == 401
        assert await post(public_url, update_from(WES, "/start", 2), None) == 401

        # The right one: the bot answers through the Bot API.
        assert await post(public_url, update_from(WES, "/start", 3), SECRET) == 200
        hello = await expect(api, bot, sent("sendMessage", WES.id, "Hello, Wes!"), "hello")
        assert hello.ok
        replies = [c for c in api.calls[since:] if c.method == "sendMessage"]
        assert len(replies) == 1, api.describe(since)  # the rejected posts did nothing

        # The webhook's server answers the load balancer's probes but keeps health and
        # metrics to the internal one.
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                assert r.status == 200
            for path in ("/metrics", "/health"):
                async with http.get(f"http://127.0.0.1:{port}{path}") as r:
                    assert r.status == 404
            async with http.get(f"http://127.0.0.1:{internal_port}/metrics") as r:
                assert 'bot_updates_total{type="message"} 1.0' in await r.text()
            async with http.get(f"http://127.0.0.1:{internal_port}/health") as r:
                assert r.status == 200
            async with http.post(f"http://127.0.0.1:{internal_port}/telegram/webhook") as r:
                assert r.status == 404
    finally:
        code = await bot.stop(timeout=STEP_TIMEOUT)
    assert code == 0, bot.stderr()
