"""End to end: `python -m bot` as a subprocess, long polling a local fake Bot API over HTTP.

Nothing here reaches the internet: the bot's TELEGRAM_API_URL points at a LocalBotAPI on
127.0.0.1, the database is a SQLite file in the test's temporary folder, and users and stock are
prepared with the operator CLI (`bot.cli.main`) the way an operator would.

Importing aiogram takes several seconds, so every bot start is given a generous timeout; all
other waits poll with short intervals until the condition holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)

from bot import cli
from simulators.local_api import ApiCall, FakeUser, LocalBotAPI

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST"
STARTUP_TIMEOUT = 60.0  # importing aiogram alone takes ~8 s on a slow machine
STEP_TIMEOUT = 15.0

REQUESTER = FakeUser(101, "Rita")
MANAGER = FakeUser(201, "Max")
STOREKEEPER = FakeUser(301, "Sam")
ADMIN_ID = 901

ITEMS_CSV = "sku,name,unit,stock\nTAPE-1,Tape & glue,roll,50\nPEN-B,Blue pen,pcs,200\n"
TAPE_BUTTON = "Tape & glue (50 roll)"

# Settings the bot reads; the subprocess gets exactly the ones a test sets.
SETTING_NAMES = (
    "BOT_TOKEN",
    "DATABASE_URL",
    "TELEGRAM_API_URL",
    "ADMIN_IDS",
    "WORKFLOWS_FILE",
    "HTTP_HOST",
    "HTTP_PORT",
    "LOG_LEVEL",
    "REDIS_URL",
    "DEFAULT_LOCALE",
    "MAX_QUANTITY",
    "ITEMS_PAGE_SIZE",
    "OUTBOX_POLL_SECONDS",
    "WEBHOOK_URL",
    "WEBHOOK_SECRET",
)


class BotProcess:
    """`python -m bot` running from the repository root, its output going to files."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.stdout_path = folder / "bot.stdout.log"
        self.stderr_path = folder / "bot.stderr.log"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot"],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )

    stopped_in: float | None = None  # seconds from SIGTERM to the process's end

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def check_alive(self) -> None:
        code = self.proc.poll()
        if code is not None:
            raise AssertionError(f"the bot exited early with code {code}")

    async def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM (aiogram stops polling gracefully), then SIGKILL if it does not exit."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            deadline = sent + timeout
            while self.proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            self.stopped_in = time.monotonic() - sent
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.wait(timeout=10)


def subprocess_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.upper() not in SETTING_NAMES}
    env.update(settings)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"


@pytest.fixture
async def api() -> AsyncIterator[LocalBotAPI]:
    async with LocalBotAPI(TOKEN) as server:
        yield server


async def run_cli(*argv: str) -> int:
    # The CLI runs its own event loops (asyncio.run, alembic): keep them off the test's loop.
    return await asyncio.to_thread(cli.main, list(argv))


async def prepare(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What an operator does before the first start: roles and the item list, via the CLI."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ADMIN_IDS", str(ADMIN_ID))
    csv_path = tmp_path / "items.csv"
    csv_path.write_text(ITEMS_CSV, encoding="utf-8")
    assert await run_cli("users", "grant", str(MANAGER.id), "manager") == cli.EXIT_OK
    assert await run_cli("users", "grant", str(STOREKEEPER.id), "storekeeper") == cli.EXIT_OK
    assert await run_cli("items", "import", str(csv_path)) == cli.EXIT_OK


@contextlib.asynccontextmanager
async def running_bot(
    api: LocalBotAPI, database_url: str, tmp_path: Path
) -> AsyncIterator[BotProcess]:
    env = subprocess_env(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.base_url,
        DATABASE_URL=database_url,
        ADMIN_IDS=str(ADMIN_ID),
        LOG_LEVEL="INFO",
        HTTP_PORT="0",  # no HTTP server: port 8080 may be taken on a shared machine
    )
    bot = BotProcess(env, tmp_path)
    try:
        await expect(
            api, bot, lambda c: c.method == "getUpdates", "the first getUpdates", STARTUP_TIMEOUT
        )
        yield bot
    finally:
        await bot.stop()


async def expect(
    api: LocalBotAPI,
    bot: BotProcess,
    predicate: Callable[[ApiCall], bool],
    what: str,
    timeout: float = STEP_TIMEOUT,
    since: int = 0,
) -> ApiCall:
    try:
        return await api.wait_for(
            predicate, timeout, since=since, check=bot.check_alive, what=what
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- bot stderr ---\n{bot.stderr()}") from None


def sent(method: str, chat_id: int, contains: str = "") -> Callable[[ApiCall], bool]:
    return lambda c: c.method == method and c.chat_id == chat_id and contains in c.text


async def say(api: LocalBotAPI, bot: BotProcess, user: FakeUser, text: str, reply: str) -> ApiCall:
    """`user` sends `text`; returns the bot's sendMessage to them that contains `reply`."""
    since = api.mark()
    api.push_message(user, text)
    return await expect(
        api,
        bot,
        sent("sendMessage", user.id, reply),
        f"a reply {reply!r} to {text!r}",
        since=since,
    )


def query_db(database_url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    path = database_url.removeprefix("sqlite+aiosqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql, args).fetchall()


async def test_request_walks_from_creation_to_completion(
    api: LocalBotAPI, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await prepare(tmp_path, database_url, monkeypatch)
    exit_code: int | None = None
    async with running_bot(api, database_url, tmp_path) as bot:
        # Start-up: everyone's command menu (default + en, ru, es), the admin's own menu in
        # their chat, the webhook cleared, then polling.
        startup = [c.method for c in api.calls]
        assert startup.count("setMyCommands") == 5, api.describe()
        admin_menu = api.calls_of("setMyCommands")[4].params
        assert admin_menu["scope"] == {"type": "chat", "chat_id": ADMIN_ID}
        assert [c["command"] for c in admin_menu["commands"]][-2:] == ["error", "health"]
        assert {"getMe", "deleteWebhook"} <= set(startup), api.describe()
        menu = api.calls_of("setMyCommands")[0].params["commands"]
        assert [c["command"] for c in menu][:2] == ["new_request", "my_requests"]
        assert api.calls_of("getUpdates")[-1].params.get("allowed_updates") == [
            "callback_query",
            "message",
        ]

        for person in (MANAGER, STOREKEEPER):
            await say(api, bot, person, "/start", f"Hello, {person.first_name}!")
        hello = await say(api, bot, REQUESTER, "/start", "Hello, Rita!")
        assert "Your roles: requester." in hello.text

        # The requester builds a request: item, quantity, submit.
        menu_msg = await say(api, bot, REQUESTER, "/new_request", "Choose an item")
        assert TAPE_BUTTON in menu_msg.buttons()

        since = api.mark()
        api.press(REQUESTER, TAPE_BUTTON)
        ask = await expect(
            api, bot, sent("editMessageText", REQUESTER.id, "How many of"), "ask", since=since
        )
        assert "How many of Tape &amp; glue do you need? In stock: 50 roll." in ask.text
        assert ask.ok, ask

        draft = await say(api, bot, REQUESTER, "3", "Your request so far:")
        assert "• Tape &amp; glue: 3 roll" in draft.text
        assert "Submit request" in draft.buttons()

        since = api.mark()
        api.press(REQUESTER, "Submit request")
        submitted = await expect(
            api, bot, sent("editMessageText", REQUESTER.id, "is submitted"), "submit", since=since
        )
        assert "Request #1 is submitted. It is now at Manager approval, with Max." in (
            submitted.text
        )

        # The manager is notified through the outbox and approves.
        to_manager = await expect(
            api, bot, sent("sendMessage", MANAGER.id, "waits for your decision"), "manager's note"
        )
        assert "Request #1 from Rita waits for your decision (Manager approval):" in (
            to_manager.text
        )
        assert "• Tape &amp; glue: 3 roll" in to_manager.text
        assert to_manager.buttons() == ["Approve", "Reject"]

        since = api.mark()
        api.press(MANAGER, "Approve")
        approved = await expect(
            api, bot, sent("editMessageText", MANAGER.id, "✅"), "manager's outcome", since=since
        )
        # The edit keeps the notification's text (HTML round trip) and adds the outcome.
        assert approved.text.startswith("Request #1 from Rita waits for your decision")
        assert "• Tape &amp; glue: 3 roll" in approved.text
        assert "✅ Approved. Request #1 moved to Warehouse issue." in approved.text
        assert approved.buttons() == []  # the keyboard is gone: nobody can press it twice
        advanced = await expect(
            api, bot, sent("sendMessage", REQUESTER.id, "was approved"), "advance", since=since
        )
        assert "Request #1 was approved and moved to Warehouse issue (Sam)." in advanced.text

        # The storekeeper gets it next and approves: stock is issued, the request completes.
        to_keeper = await expect(
            api,
            bot,
            sent("sendMessage", STOREKEEPER.id, "waits for your decision (Warehouse issue)"),
            "storekeeper's note",
            since=since,
        )
        assert to_keeper.buttons() == ["Approve", "Reject"]

        since = api.mark()
        api.press(STOREKEEPER, "Approve")
        done = await expect(
            api, bot, sent("editMessageText", STOREKEEPER.id, "✅"), "keeper outcome", since=since
        )
        assert "✅ Request #1 is now completed." in done.text
        completed = await expect(
            api, bot, sent("sendMessage", REQUESTER.id, "is completed"), "completion", since=since
        )
        assert completed.text == "Request #1 is completed: the items were issued to you."

        # The requester's side of the conversation, in order (sent and edited texts).
        transcript = api.texts_to(REQUESTER.id)
        expected = [
            "Hello, Rita! You are registered.",
            "Choose an item (page 1 of 1):",
            "How many of Tape &amp; glue do you need?",
            "Your request so far:\n• Tape &amp; glue: 3 roll",
            "Your request so far:\n• Tape &amp; glue: 3 roll\n\nRequest #1 is submitted.",
            "Request #1 was approved and moved to Warehouse issue (Sam).",
            "Request #1 is completed: the items were issued to you.",
        ]
        assert len(transcript) == len(expected), transcript
        for text, start in zip(transcript, expected, strict=True):
            assert text.startswith(start), (text, start)

        # Every button press was answered once (no endless spinner), and nothing failed.
        assert api.unanswered_callbacks() == []
        assert all(len(a) == 1 for a in api.callback_answers.values()), api.callback_answers
        failed = [str(c) for c in api.calls if c.status is not None and not c.ok]
        assert failed == [], failed
        exit_code = await bot.stop()

    stderr = bot.stderr()
    assert exit_code == 0, stderr
    assert "Traceback" not in stderr, stderr
    assert " ERROR " not in stderr, stderr
    # Gone within a second of SIGTERM, everything flushed (the last log line is there).
    assert bot.stopped_in is not None and bot.stopped_in < 1.0, (bot.stopped_in, stderr)
    assert stderr.rstrip().endswith("Scheduler has been shut down"), stderr[-500:]
    # The start-up log says how it runs, at which schema, and names every job.
    assert "database schema at revision " in stderr
    assert "starting in polling mode; database sqlite (sqlite+aiosqlite:///" in stderr
    assert "HTTP off (HTTP_PORT=0)" in stderr
    for job in ("flush_error_spool", "detect_stuck", "outbox", "health_snapshot"):
        assert f'Added job "{job}"' in stderr, stderr
    assert "guarded" not in stderr

    assert query_db(database_url, "SELECT id, status, stage FROM requests") == [
        (1, "completed", None)
    ]
    assert query_db(database_url, "SELECT stock FROM inventory_items WHERE sku = 'TAPE-1'") == [
        (47,)
    ]
    issues = query_db(
        database_url,
        "SELECT t.quantity, t.request_id, t.status FROM inventory_transactions t "
        "JOIN inventory_items i ON i.id = t.item_id WHERE i.sku = 'TAPE-1' AND t.kind = 'issue'",
    )
    assert issues == [(-3, 1, "committed")]
    notes = query_db(
        database_url,
        "SELECT u.telegram_id, n.kind, n.status FROM pending_notifications n "
        "JOIN users u ON u.id = n.recipient_id ORDER BY n.id",
    )
    assert notes == [
        (MANAGER.id, "approval_needed", "sent"),
        (STOREKEEPER.id, "approval_needed", "sent"),
        (REQUESTER.id, "request_advanced", "sent"),
        (REQUESTER.id, "request_completed", "sent"),
    ]


async def test_start_without_token_explains_where_to_get_one(tmp_path: Path) -> None:
    env = subprocess_env(BOT_TOKEN="", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _stdout, stderr = await asyncio.wait_for(proc.communicate(), STARTUP_TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = stderr.decode()
    assert proc.returncode == cli.EXIT_USAGE, text
    assert "BOT_TOKEN" in text, text
    assert "BotFather" in text, text
    assert "Traceback" not in text, text
    assert not (tmp_path / "x.db").exists(), "the database was touched before the token check"


async def test_fault_hook_answers_like_telegram(api: LocalBotAPI) -> None:
    """The hook itself, through aiogram's real HTTP session: each queued error is raised as
    the exception aiogram raises for Telegram's answer, once, and then calls succeed again."""
    session = AiohttpSession()
    session.api = TelegramAPIServer.from_base(api.base_url)
    bot = Bot(TOKEN, session=session)
    try:
        flood = api.fail_next("sendMessage", 429, retry_after=3)
        with pytest.raises(TelegramRetryAfter) as exc_info:
            await bot.send_message(REQUESTER.id, "hi")
        assert exc_info.value.retry_after == 3
        assert [c.status for c in flood.hits] == [429] and flood.times == 0

        only_sam = api.fail_next("sendMessage", 403, match=lambda p: p["chat_id"] == 301)
        sent_ok = await bot.send_message(REQUESTER.id, "<b>hello</b> &amp; bye", parse_mode="HTML")
        assert sent_ok.text == "hello & bye" and sent_ok.html_text == "<b>hello</b> &amp; bye"
        with pytest.raises(TelegramForbiddenError):
            await bot.send_message(STOREKEEPER.id, "hi")
        assert len(only_sam.hits) == 1

        api.fail_next("editMessageText", 502, times=2)
        for _ in range(2):
            with pytest.raises(TelegramServerError):
                await bot.edit_message_text("x", chat_id=REQUESTER.id, message_id=1)
        with pytest.raises(TelegramBadRequest, match="message to edit not found"):
            await bot.edit_message_text("x", chat_id=REQUESTER.id, message_id=999)
        with pytest.raises(TelegramBadRequest, match="message is not modified"):
            await bot.edit_message_text(
                "<b>hello</b> &amp; bye",
                chat_id=REQUESTER.id,
                message_id=sent_ok.message_id,
                parse_mode="HTML",
            )
        with pytest.raises(TelegramNotFound, match="method not found"):
            await bot.send_dice(REQUESTER.id)
        assert (await bot.get_me()).id == 123456
    finally:
        await bot.session.close()


async def test_bot_survives_injected_faults(
    api: LocalBotAPI, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused edit falls back to a new message; a 429 on a notification is recorded by the
    outbox for a later retry (not before Telegram's retry_after); the bot keeps serving."""
    await prepare(tmp_path, database_url, monkeypatch)
    async with running_bot(api, database_url, tmp_path) as bot:
        await say(api, bot, REQUESTER, "/start", "Hello, Rita!")
        await say(api, bot, REQUESTER, "/new_request", "Choose an item")

        gone = api.fail_next("editMessageText", 400, "Bad Request: message to edit not found")
        since = api.mark()
        api.press(REQUESTER, TAPE_BUTTON)
        ask = await expect(
            api, bot, sent("sendMessage", REQUESTER.id, "How many of"), "fallback", since=since
        )
        assert [c.method for c in gone.hits] == ["editMessageText"]
        assert gone.hits[0].index < ask.index  # the edit was tried first, then sent anew
        await say(api, bot, REQUESTER, "2", "Your request so far:")

        flood = api.fail_next(
            "sendMessage", 429, retry_after=1, match=lambda p: p.get("chat_id") == MANAGER.id
        )
        since = api.mark()
        api.press(REQUESTER, "Submit request")
        await expect(
            api, bot, sent("editMessageText", REQUESTER.id, "is submitted"), "submit", since=since
        )
        hit = await expect(api, bot, lambda c: c.fault is flood, "the 429 answer", since=since)
        # Telegram said "retry after 1 s": the outbox waits exactly that, and the wait does not
        # use up one of the notification's attempts.
        retried = await expect(
            api,
            bot,
            sent("sendMessage", MANAGER.id, "waits for your decision"),
            "the notification sent again after retry_after",
            since=hit.index + 1,
        )
        assert retried.ok
        assert retried.at - hit.at >= (flood.retry_after or 0) - 0.05, (hit.at, retried.at)
        deadline = time.monotonic() + STEP_TIMEOUT
        rows: list[tuple[Any, ...]] = []
        while time.monotonic() < deadline:
            rows = query_db(
                database_url,
                "SELECT n.status, n.attempts FROM pending_notifications n "
                "JOIN users u ON u.id = n.recipient_id WHERE u.telegram_id = ?",
                MANAGER.id,
            )
            if rows and rows[0][0] == "sent":
                break
            await asyncio.sleep(0.05)
        assert rows == [("sent", 1)], rows

        # Still serving: the requester sees the request, still in progress.
        mine = await say(api, bot, REQUESTER, "/my_requests", "Your requests")
        assert "#1 — in progress" in mine.text
        assert bot.proc.poll() is None
