"""End to end: `python -m bot` in webhook mode gets SIGTERM while an update is being handled
(its reply held up by a slow Bot API): the update finishes within WEBHOOK_DRAIN_SECONDS,
Telegram's 200 comes after it, a new update meanwhile is refused (503), and the process
exits 0 with the update marked handled in the database."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot import cli
from simulators.local_api import LocalBotAPI
from tests.test_e2e import (
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
from tests.test_e2e_webhook import SECRET, WES, free_port, post, update_from

pytestmark = pytest.mark.e2e


async def test_sigterm_mid_update_drains_it_before_the_process_leaves(
    api: LocalBotAPI,  # noqa: F811
    tmp_path: Path,
    database_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert await run_cli("migrate") == cli.EXIT_OK
    port = free_port()
    public_url = f"http://127.0.0.1:{port}/telegram/webhook"
    env = subprocess_env(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.base_url,
        DATABASE_URL=database_url,
        ADMIN_IDS=str(ADMIN_ID),
        HTTP_HOST="127.0.0.1",
        HTTP_PORT=str(port),
        WEBHOOK_URL=public_url,
        WEBHOOK_SECRET=SECRET,
        WEBHOOK_DRAIN_SECONDS="10",
    )
    bot = BotProcess(env, tmp_path)
    try:
        await expect(api, bot, lambda c: c.method == "setWebhook", "setWebhook", STARTUP_TIMEOUT)
        api.latency = 0.5  # every Bot API answer from now on: the reply holds the update
        since = api.mark()
        answer = asyncio.create_task(post(public_url, update_from(WES, "/start", 3), SECRET))
        hello = await expect(api, bot, sent("sendMessage", WES.id, "Hello, Wes!"), "hello")
        bot.proc.send_signal(signal.SIGTERM)  # mid-update: the reply is not answered yet
        await asyncio.sleep(0.1)
        assert not answer.done()
        # Draining: new updates go back to Telegram, to be delivered elsewhere or later.
        assert await post(public_url, update_from(WES, "/help", 4), SECRET) == 503
        assert await answer == 200
        assert hello.status == 200  # Telegram's 200 came after the reply was through
    finally:
        code = await bot.stop(timeout=STEP_TIMEOUT)
    assert code == 0, bot.stderr()
    replies = [c for c in api.calls[since:] if c.method == "sendMessage"]
    assert len(replies) == 1, api.describe(since)
    engine = create_engine(database_url.replace("+aiosqlite", ""))
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, done_at IS NOT NULL FROM handled_updates")).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [(3, 1)]
