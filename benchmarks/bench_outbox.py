"""The outbox sender against Telegram's real limits, and its own ceiling, in one run.

The paced cases drain notifications through the bot's real sender loop (`OutboxSender.run`,
as the bot runs it) into the local Bot API server (simulators/local_api), which enforces Telegram's
limits strictly: a sliding one-second window from each request's arrival, overall and per
chat, answering 429 with `retry_after`. Printed side by side:

* the achieved rate against the configured limit, with the 429s, lost and duplicated rows;
* a 100-message burst to one chat beside the same queue without it (the others' rate);
* one injected 429 (`retry_after` 1 s): how long sending stood still;
* the sender's own ceiling with the limits lifted and a bot that answers instantly, beside a
  bare `send_message` loop on the same bot, on SQLite and PostgreSQL.

Run from the project root:
    .venv/bin/python benchmarks/bench_outbox.py [--count 2000] [--chats 500]
        [--admin-url postgresql+asyncpg://postgres@127.0.0.1:5432/test] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, not installed

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.types import Chat, Message
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from benchmarks.postgres_admin import admin
from bot.factory import App, create_app, create_bot
from core.enums import NotificationStatus
from core.settings import ErrorSettings, OutboxSettings, Settings, TelegramSettings
from database.base import Base
from database.engine import create_engine
from database.models import PendingNotification, User
from outbox.payloads import RequestCompleted
from outbox.repository import enqueue
from simulators.local_api import LocalBotAPI

TOKEN = "123456:BENCH"
FIRST_CHAT = 10_000
LIFTED = 1_000_000.0


@dataclass
class Result:
    sent: int  # sendMessage calls answered ok
    rows: int
    lost: int  # rows not sent when the run ended
    duplicated: int  # extra ok sends of a row already sent
    limited: int  # 429 answers from the limits
    rate: float  # ok sends a second, first to last
    other_rate: float = 0.0  # the same, for chats other than the burst's
    stall: float = 0.0  # after the injected 429: the longest gap between two arrivals
    inside: int = 0  # sends that arrived inside the 429's retry_after window
    per_chat_429: int = 0  # of `limited`, those with a send to their chat in the second before


class InstantSession(BaseSession):
    """A bot session answering sendMessage at once, as if Telegram took no time at all."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[tuple[int, str]] = []

    async def close(self) -> None:
        pass

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        assert isinstance(method, SendMessage)
        self.texts.append((int(method.chat_id), method.text))
        chat = Chat(id=int(method.chat_id), type="private")
        return Message(message_id=len(self.texts), date=0, chat=chat, text=method.text)

    async def stream_content(self, *args: Any, **kwargs: Any) -> AsyncIterator[bytes]:
        yield b""


def settings_for(url: str, folder: str, api_url: str, rate: float, per_chat: float) -> Settings:
    return Settings(
        bot_token=SecretStr(TOKEN),
        telegram=TelegramSettings(api_url=api_url),
        database_url=SecretStr(url),
        outbox=OutboxSettings(rate_per_second=rate, per_chat_per_second=per_chat),
        error=ErrorSettings(spool_path=Path(folder) / "spool.jsonl"),
        _env_file=None,  # type: ignore[call-arg]
    )


@contextlib.asynccontextmanager
async def database(kind: str, folder: str, admin_url: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{folder}/bench-{uuid.uuid4().hex[:6]}.sqlite3"
        return
    name = f"bench_outbox_{uuid.uuid4().hex[:8]}"
    await admin(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        await admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def fill(app: App, batches: list[tuple[int, int]]) -> int:
    """(chats, messages) batches: the messages go round-robin to that many new chats."""
    now = app.clock.now()
    n = chat_base = 0
    async with app.sessionmaker() as session, session.begin():
        for chats, count in batches:
            users = [
                User(telegram_id=FIRST_CHAT + chat_base + c, created_at=now) for c in range(chats)
            ]
            session.add_all(users)
            await session.flush()
            chat_base += chats
            for i in range(count):
                n += 1
                await enqueue(
                    session,
                    recipient_id=users[i % chats].id,
                    payload=RequestCompleted(request_id=n, workflow="inventory_request"),
                    idempotency_key=f"bench-{n}",
                    now=now,
                )
    return n


async def waiting_rows(app: App) -> int:
    async with app.sessionmaker() as session:
        query = select(func.count()).where(PendingNotification.status != NotificationStatus.SENT)
        return int(await session.scalar(query.select_from(PendingNotification)) or 0)


async def drain(app: App, done: Callable[[], bool], timeout: float) -> None:
    """Run the bot's sender loop until `done()`; then stop it as the bot stops it."""
    loop = asyncio.create_task(app.sender.run(poll_seconds=5.0))
    deadline = time.perf_counter() + timeout
    while not done() and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    loop.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop


def rate_of(times: list[float]) -> float:
    times = sorted(times)
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


@contextlib.asynccontextmanager
async def remote_api() -> AsyncIterator[LocalBotAPI]:
    """The local Bot API server on its own thread and event loop, like a server elsewhere: the
    times it stamps on arrivals are not held up by work on the sender's event loop."""
    api = LocalBotAPI(TOKEN)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="bot-api", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(api.start(), loop).result()
    try:
        yield api
    finally:
        asyncio.run_coroutine_threadsafe(api.close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


async def paced(
    url: str,
    folder: str,
    batches: list[tuple[int, int]],
    *,
    rate: float,
    per_chat: float,
    latency: float,
    fail_at: int | None = None,
) -> Result:
    async with remote_api() as api:
        api.limits = (rate, per_chat)
        api.latency = latency
        fault = None
        if fail_at is not None:
            seen = iter(range(1, 1_000_000))
            fault = api.fail_next(
                "sendMessage", 429, retry_after=1, match=lambda _: next(seen) == fail_at
            )
        settings = settings_for(url, folder, api.base_url, rate, per_chat)
        app = await start(settings, create_bot(settings))
        total = await fill(app, batches)

        def ok() -> list[Any]:
            return [c for c in api.calls_of("sendMessage") if c.ok]

        longest = max(max(count / rate, count / per_chat / chats) for chats, count in batches)
        await drain(app, lambda: len(ok()) >= total, timeout=longest * 2 + 30)
        left = await waiting_rows(app)
        await stop(app)
    sends = ok()
    texts = Counter(c.text for c in sends)
    burst_chat = FIRST_CHAT if len(batches) > 1 else None
    others = [c.at for c in sends if c.chat_id != burst_chat]
    stall = inside = 0.0
    if fault is not None:
        # The sender paused when the 429 came back, `latency` after the refused call arrived.
        [refused] = fault.hits
        paused = refused.at + latency
        after = sorted(c.at for c in sends if c.at > refused.at)
        stall = (
            after[-1] - refused.at
            if len(after) < 2
            else max(b - a for a, b in zip([refused.at, *after], after, strict=False))
        )
        # Arrivals well inside the pause (sends in flight when it came back may land in it).
        inside = sum(paused + 0.005 < t < paused + 1.0 for t in after)
    per_chat_429 = sum(
        any(c.chat_id == d.chat_id and c.at - 1 < d.at <= c.at for d in sends) for c in api.limited
    )
    return Result(
        per_chat_429=per_chat_429,
        sent=len(sends),
        rows=total,
        lost=left,
        duplicated=sum(n - 1 for n in texts.values()),
        limited=len(api.limited),
        rate=rate_of([c.at for c in sends]),
        other_rate=rate_of(others),
        stall=stall,
        inside=int(inside),
    )


async def ceiling(url: str, folder: str, count: int, chats: int) -> tuple[Result, float]:
    """The sender with limits lifted and an instant bot; beside it a bare send_message loop."""
    session = InstantSession()
    settings = settings_for(url, folder, "http://127.0.0.1:9", LIFTED, LIFTED)
    app = await start(settings, create_bot(settings, session=session))
    total = await fill(app, [(chats, count)])
    started = time.perf_counter()
    await drain(app, lambda: len(session.texts) >= total, timeout=120)
    elapsed = time.perf_counter() - started
    left = await waiting_rows(app)
    bare_started = time.perf_counter()
    for n in range(count):
        await app.sender.bot.send_message(chat_id=FIRST_CHAT + n % chats, text="bare")
    bare = count / (time.perf_counter() - bare_started)
    await stop(app)
    texts = Counter(text for _, text in session.texts if text != "bare")
    sent = sum(texts.values())
    return (
        Result(sent, total, left, sent - len(texts), 0, sent / elapsed),
        bare,
    )


async def start(settings: Settings, bot: Bot) -> App:
    engine = create_engine(settings.database_url_value)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    return create_app(settings, bot, engine=engine)


async def stop(app: App) -> None:
    await app.healer.shutdown()
    await app.bulk.shutdown()
    await app.sender.bot.session.close()
    await app.engine.dispose()


def progress(what: str) -> None:
    print(f"... {what}", file=sys.stderr, flush=True)


async def bench(args: argparse.Namespace) -> None:
    rate, per_chat, latency = args.rate, args.per_chat, args.latency
    engines = ["sqlite"] + ([] if args.no_postgres else ["postgresql"])
    with tempfile.TemporaryDirectory() as folder:
        progress("paced: steady")
        async with database("sqlite", folder, args.admin_url) as url:
            steady = await paced(
                url,
                folder,
                [(args.chats, args.count)],
                rate=rate,
                per_chat=per_chat,
                latency=latency,
            )
        progress("paced: a burst to one chat")
        async with database("sqlite", folder, args.admin_url) as url:
            burst = await paced(
                url,
                folder,
                [(1, 100), (args.chats, args.count)],
                rate=rate,
                per_chat=per_chat,
                latency=latency,
            )
        progress("paced: one 429")
        async with database("sqlite", folder, args.admin_url) as url:
            one_429 = await paced(
                url,
                folder,
                [(args.chats, 300)],
                rate=rate,
                per_chat=per_chat,
                latency=latency,
                fail_at=100,
            )
        ceilings = {}
        for kind in engines:
            progress(f"ceiling on {kind}")
            async with database(kind, folder, args.admin_url) as url:
                ceilings[kind] = await ceiling(url, folder, args.ceiling_count, args.chats)

    print(
        f"Telegram's limits, strict sliding windows: {rate:g}/s overall, {per_chat:g}/s per "
        f"chat; {latency * 1000:.0f} ms per answer; margins as configured by default"
    )
    print()
    print(f"{'case':<44} {'achieved':>10} {'limit':>7} {'429s':>5} {'lost':>5} {'dup':>5}")
    rows = [
        (f"{steady.rows} to {args.chats} chats", steady, steady.rate),
        ("the same + 100 to one chat: all", burst, burst.rate),
        (f"  of which the {args.chats} other chats", burst, burst.other_rate),
        (f"{one_429.rows} with one injected 429", one_429, one_429.rate),
    ]
    for name, result, achieved in rows:
        print(
            f"{name:<44} {achieved:>8.1f}/s {rate:>5g}/s {result.limited:>5} "
            f"{result.lost:>5} {result.duplicated:>5}"
            + (f"  ({result.per_chat_429} per chat)" if result.limited else "")
        )
    print(f"{'  share of the limit, first case':<44} {steady.rate / rate:>9.1%}  (goal >= 95 %)")
    print()
    print(
        f"one 429 (retry_after 1 s, injected by the fake): sending stood still "
        f"{one_429.stall:.2f} s; {one_429.inside} sends arrived inside the retry_after window"
    )
    print()
    print(f"sender's own ceiling: limits lifted, an instant bot, {args.ceiling_count} rows")
    print(f"{'database':<12} {'sender':>12} {'bare send_message':>19} {'lost':>5} {'dup':>5}")
    for kind, (result, bare) in ceilings.items():
        print(
            f"{kind:<12} {result.rate:>10.0f}/s {bare:>17.0f}/s {result.lost:>5} "
            f"{result.duplicated:>5}   (goal >= {10 * rate:g}/s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=500)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--per-chat", type=float, default=1.0)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per API answer")
    parser.add_argument("--ceiling-count", type=int, default=5000)
    parser.add_argument("--admin-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(bench(args))


if __name__ == "__main__":
    main()
