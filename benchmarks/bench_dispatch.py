"""The update pipeline, side by side in one process: aiogram's bare dispatch with a no-op
handler; the project's stack (create_app + create_dispatcher) with a no-op handler; the real
`/start` and `/my_requests` (a user with 7 requests); and the SQL statements each update sends.

Run from the project root:

    .venv/bin/python benchmarks/bench_dispatch.py              # SQLite (a temporary file)
    .venv/bin/python benchmarks/bench_dispatch.py --postgres   # and PostgreSQL
    BENCH_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/bench_dispatch.py

PostgreSQL: a throwaway database is created on that server (default 127.0.0.1:5432, user
postgres, trust auth) and dropped afterwards.

No network: the bot's session answers every Bot API call at once with a prebuilt result (how
tests/support/recording.py fakes Telegram, without recording), so what is timed is aiogram's
dispatch, the middlewares, the handler and the database. The scenarios run interleaved in
rounds; each figure is the median of the rounds' mean time per update. "SQL per update" counts
what a SQLAlchemy `before_cursor_execute` listener sees, plus BEGIN on PostgreSQL (asyncpg
sends it outside the cursor, and none for an autocommit read; on SQLite it is the
`BEGIN IMMEDIATE` the engine issues); COMMIT/ROLLBACK and pool checkouts are counted beside it
(the pool pings only connections idle for 10 s, which a benchmark never leaves). The last row
runs a second dispatcher on the same database with USER_CACHE_SECONDS=0: what an update costs
when the person is not in the cache (the first update after the cache time, another replica).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, not installed

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.base import BaseSession
from aiogram.filters import Command
from aiogram.methods import SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Chat, Message, Update, User
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.factory import App, create_app, create_bot, create_dispatcher
from core.settings import ErrorSettings, Settings, ThrottleSettings
from database.base import Base
from database.engine import AUTOCOMMIT_READ, create_engine
from services.inventory import ImportRow
from services.requests import Line
from services.users import TelegramProfile

TOKEN = "123456:BENCH"
USER_ID = 1001
REQUESTS = 7
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
TARGETS = {"stack, no-op handler": 2.0, "/my_requests": 19.0}
SQL_TARGET = {"/my_requests": 3}
DATE = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class SilentSession(BaseSession):
    """Answers every Bot API call at once, like Telegram would, without a network."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0
        self._reply: Message | None = None

    async def close(self) -> None:
        pass

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        if isinstance(method, SendMessage):
            self.sent += 1
            if self._reply is None:
                self._reply = Message.model_validate(
                    {
                        "message_id": 1,
                        "date": DATE,
                        "chat": Chat(id=USER_ID, type="private"),
                        "from": User(id=4242, is_bot=True, first_name="bot"),
                        "text": "ok",
                    },
                    context={"bot": bot},
                )
            return self._reply  # type: ignore[return-value]
        return True  # type: ignore[return-value]

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        yield b""


def message_update(text: str, update_id: int = 1) -> Update:
    return Update.model_validate(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": DATE,
                "chat": {"id": USER_ID, "type": "private"},
                "from": {
                    "id": USER_ID,
                    "is_bot": False,
                    "first_name": "Ann",
                    "language_code": "en",
                },
                "text": text,
            },
        }
    )


async def noop(message: Message) -> None:
    """The handler that does nothing: what is left is the cost of getting there."""


@dataclass
class SqlCounter:
    """Statements a SQLAlchemy engine sends, by kind."""

    statements: int = 0
    begins: int = 0
    ends: int = 0  # COMMIT or ROLLBACK
    checkouts: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    def attach(self, engine: AsyncEngine) -> None:
        sync = engine.sync_engine
        postgres = engine.dialect.name == "postgresql"

        def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            self.statements += 1
            kind = statement.lstrip().split(None, 1)[0].upper()
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
            if kind == "BEGIN":
                self.begins += 1

        def on_begin(conn: Any) -> None:
            # asyncpg sends BEGIN itself, not through a cursor; none in autocommit
            autocommit = conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
            if postgres and not autocommit:
                self.statements += 1
                self.begins += 1
                self.kinds["BEGIN"] = self.kinds.get("BEGIN", 0) + 1

        def on_end(conn: Any) -> None:
            options = conn.get_execution_options()
            if options.get("isolation_level") != "AUTOCOMMIT" and not options.get(AUTOCOMMIT_READ):
                self.ends += 1  # an autocommit read has no transaction to end: nothing is sent

        def on_checkout(*args: Any) -> None:
            self.checkouts += 1

        event.listen(sync, "before_cursor_execute", on_execute)
        event.listen(sync, "begin", on_begin)
        event.listen(sync, "commit", on_end)
        event.listen(sync, "rollback", on_end)
        event.listen(sync.pool, "checkout", on_checkout)

    def reset(self) -> None:
        self.statements = self.begins = self.ends = self.checkouts = 0
        self.kinds = {}


@dataclass
class Scenario:
    name: str
    feed: Callable[[], Any]
    counter: SqlCounter | None
    times: list[float] = field(default_factory=list)
    per_update: dict[str, float] = field(default_factory=dict)


async def build_app(url: str, folder: Path) -> tuple[App, Dispatcher, Bot, SqlCounter]:
    settings = Settings(
        bot_token=SecretStr(TOKEN),
        database_url=SecretStr(url),
        error=ErrorSettings(spool_path=folder / "spool.jsonl"),
        # One person's updates back to back: the flood control would drop all but a burst.
        throttle=ThrottleSettings(burst=1_000_000),
        _env_file=None,  # type: ignore[call-arg]
    )
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    bot = create_bot(settings, session=SilentSession())
    app = create_app(settings, bot, engine=engine)
    dp = create_dispatcher(app)
    dp.message.register(noop, Command("noop"))  # the dispatcher's own handlers come first
    await app.inventory.import_rows(
        [ImportRow(n + 2, f"SKU-{n}", f"Item {n}", "pcs", 1000) for n in range(3)]
    )
    requester = (await app.users.register(TelegramProfile(USER_ID, "Ann", None, "en"))).user
    items = (await app.inventory.page(0, 3))[0]
    for n in range(REQUESTS):
        lines = [Line(items[k % 3].id, n + 1) for k in range(1 + n % 3)]
        await app.requests.create(requester.id, lines)
    counter = SqlCounter()
    counter.attach(engine)
    return app, dp, bot, counter


async def run(url: str, rounds: int, per_round: int) -> list[Scenario]:
    folder = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    app, dp, bot, counter = await build_app(url, folder)
    bare_dp = Dispatcher()
    bare_router = Router()
    bare_router.message.register(noop, Command("noop"))
    bare_dp.include_router(bare_router)
    bare_bot = Bot(TOKEN, session=SilentSession())
    # the same database and user, with the user cache off: what a cache miss costs
    uncached_bot = create_bot(app.settings, session=SilentSession())
    uncached_settings = app.settings.model_copy(update={"user_cache_seconds": 0})
    uncached = create_app(uncached_settings, uncached_bot, engine=app.engine)
    uncached_dp = create_dispatcher(uncached)

    updates = {text: message_update(text) for text in ("/noop", "/start", "/my_requests")}
    scenarios = [
        Scenario(
            "bare aiogram, no-op handler",
            lambda: bare_dp.feed_update(bare_bot, updates["/noop"]),
            None,
        ),
        Scenario("stack, no-op handler", lambda: dp.feed_update(bot, updates["/noop"]), counter),
        Scenario("/start", lambda: dp.feed_update(bot, updates["/start"]), counter),
        Scenario("/my_requests", lambda: dp.feed_update(bot, updates["/my_requests"]), counter),
        Scenario(
            "/my_requests, user cache off",
            lambda: uncached_dp.feed_update(uncached_bot, updates["/my_requests"]),
            counter,
        ),
    ]
    session = bot.session
    assert isinstance(session, SilentSession)
    for scenario in scenarios:  # warm up: caches, prepared statements, the pool
        for _ in range(50):
            await scenario.feed()
    sent_before = session.sent
    await dp.feed_update(bot, updates["/my_requests"])
    assert session.sent == sent_before + 1, "/my_requests did not answer"
    for _ in range(rounds):
        for scenario in scenarios:
            if scenario.counter is not None:
                scenario.counter.reset()
            started = time.perf_counter()
            for _ in range(per_round):
                await scenario.feed()
            scenario.times.append((time.perf_counter() - started) / per_round)
            if scenario.counter is not None:
                c = scenario.counter
                scenario.per_update = {
                    "sql": c.statements / per_round,
                    "begin": c.begins / per_round,
                    "end": c.ends / per_round,
                    "checkouts": c.checkouts / per_round,
                    **{f"kind:{k}": v / per_round for k, v in sorted(c.kinds.items())},
                }
    await uncached.healer.shutdown()
    await app.healer.shutdown()
    await app.bulk.shutdown()
    await dp.storage.close()
    await app.engine.dispose()
    return scenarios


def report(title: str, scenarios: list[Scenario], pinged: bool) -> None:
    bare = statistics.median(scenarios[0].times)
    print(f"\n{title}")
    headers = (
        "scenario",
        "per update",
        "× bare",
        "target",
        "SQL/update",
        "of which",
        "COMMIT/ROLLBACK",
        "checkouts",
    )
    rows = []
    for s in scenarios:
        median = statistics.median(s.times)
        ratio = median / bare
        target = TARGETS.get(s.name)
        target_text = (
            "-" if target is None else f"≤ {target:g}× {'meets' if ratio <= target else 'MISSES'}"
        )
        if s.counter is None:
            sql = of_which = ends = checkouts = "-"
        else:
            p = s.per_update
            sql_target = SQL_TARGET.get(s.name)
            sql = f"{p['sql']:g}"
            if sql_target is not None:
                sql += f" (≤ {sql_target} {'meets' if p['sql'] <= sql_target else 'MISSES'})"
            of_which = (
                ", ".join(f"{v:g} {k[5:]}" for k, v in p.items() if k.startswith("kind:"))
                or "none"
            )
            ends = f"{p['end']:g}"
            checkouts = f"{p['checkouts']:g}" + (
                " (each pinged)" if pinged and p["checkouts"] else ""
            )
        rows.append(
            (
                s.name,
                f"{median * 1e6:,.0f} µs",
                f"{ratio:.1f}×",
                target_text,
                sql,
                of_which,
                ends,
                checkouts,
            )
        )
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


async def create_pg_database(server_url: str) -> tuple[str, Callable[[], Any]]:
    import asyncpg

    dsn = make_url(server_url).set(drivername="postgresql")
    name = f"wrb_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    return url, drop


def add_postgres_option(parser: argparse.ArgumentParser) -> None:
    """--postgres [URL] (or BENCH_POSTGRES_URL): also run on PostgreSQL (bench_scrapes.py too)."""
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=DEFAULT_PG,
        default=os.environ.get("BENCH_POSTGRES_URL"),
        metavar="URL",
        help="also run on PostgreSQL (default server %(const)s)",
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_postgres_option(parser)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--updates", type=int, default=300, help="updates per scenario per round")
    args = parser.parse_args()

    import aiogram
    import sqlalchemy

    import database.engine

    pinged = bool(create_engine("sqlite+aiosqlite://").pool._pre_ping)
    idle = getattr(database.engine, "PING_AFTER_IDLE_SECONDS", None)
    ping = "every checkout" if pinged else f"after {idle:g} s idle" if idle else "never"
    print(
        f"Python {sys.version.split()[0]}, aiogram {aiogram.__version__}, SQLAlchemy "
        f"{sqlalchemy.__version__}; {args.rounds} rounds × {args.updates} updates per scenario; "
        f"a user with {REQUESTS} requests; pool ping: {ping}"
    )
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/bench.sqlite3"
        report("SQLite (file, WAL)", await run(url, args.rounds, args.updates), pinged)
    if args.postgres:
        url, drop = await create_pg_database(args.postgres)
        try:
            report("PostgreSQL (asyncpg)", await run(url, args.rounds, args.updates), pinged)
        finally:
            await drop()


if __name__ == "__main__":
    asyncio.run(main())
