"""Drain a burst of notifications through the real outbox sender into a local fake Bot API
that enforces Telegram's flood limits, and print the achieved rate beside the limit and the
number of 429s (0 expected).

Run from the project root: .venv/bin/python benchmarks/bench_outbox.py [--count 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, not installed

from pydantic import SecretStr

from bot.factory import create_app, create_bot
from bot.local_api import FakeBotAPI
from core.settings import ErrorSettings, OutboxSettings, Settings, TelegramSettings
from database.base import Base
from database.engine import create_engine
from database.models import User
from outbox.repository import enqueue

TOKEN = "123456:BENCH"


async def bench(count: int, chats: int, rate: float, per_chat: float, latency: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with FakeBotAPI(TOKEN) as api:
            api.limits = (rate, per_chat)
            api.latency = latency
            settings = Settings(
                bot_token=SecretStr(TOKEN),
                telegram=TelegramSettings(api_url=api.base_url),
                database_url=SecretStr(f"sqlite+aiosqlite:///{folder}/bench.sqlite3"),
                outbox=OutboxSettings(rate_per_second=rate, per_chat_per_second=per_chat),
                error=ErrorSettings(spool_path=Path(folder) / "spool.jsonl"),
                _env_file=None,  # type: ignore[call-arg]
            )
            engine = create_engine(settings.database_url_value)
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.create_all)
            app = create_app(settings, create_bot(settings), engine=engine)
            now = app.clock.now()
            async with app.sessionmaker() as session, session.begin():
                users = [User(telegram_id=10_000 + n, created_at=now) for n in range(chats)]
                session.add_all(users)
                await session.flush()
                for n in range(count):
                    await enqueue(
                        session,
                        recipient_id=users[n % chats].id,
                        kind="request_completed",
                        payload={"request_id": n, "workflow": "inventory_request"},
                        idempotency_key=f"bench-{n}",
                        now=now,
                    )
            started = time.perf_counter()
            sent = 0
            # A flush stops early after a 429 (the rest wait for retry_after); keep draining
            # as the bot's loop would, until everything has gone out.
            while sent < count:
                sent += await app.outbox.flush()
                if sent < count:
                    await asyncio.sleep(0.1)
            elapsed = time.perf_counter() - started
            await app.recovery.shutdown()
            await app.outbox.bot.session.close()
            await engine.dispose()
            print(
                f"notifications: {count} to {chats} chats, server latency {latency * 1000:.0f} ms"
            )
            print(f"sent:          {sent} in {elapsed:.1f} s")
            print(f"achieved rate: {sent / elapsed:.1f} msg/s (limit {rate:g} msg/s overall,")
            print(f"               {per_chat:g} msg/s per chat)")
            print(f"429 answers:   {len(api.limited)} (expected 0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=500)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--per-chat", type=float, default=1.0)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per API answer")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(bench(args.count, args.chats, args.rate, args.per_chat, args.latency))


if __name__ == "__main__":
    main()
