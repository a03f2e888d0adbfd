"""The application under test, built as production builds it, on simulated time.

One `World` holds the local Bot API, the database and the current `App`: the real factory,
dispatcher, scheduler jobs (`bot.scheduler.job_specs`, run through `guarded` when due on the
simulated clock) and outbox sender (flushed every tick, as its loop does on every kick).
`kill()` drops the app the way a killed process does (no shutdown, claims and transactions
left as they are) and `boot()` starts a fresh one on the same database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.commands import set_commands, sync_staff_menus
from bot.factory import App, create_app, create_bot, create_dispatcher
from bot.scheduler import JobSpec, guarded, job_specs
from core.settings import Settings
from database.engine import create_engine
from simulators.chaos.pgproxy import PgProxy
from simulators.chaos.session import SimTimeoutSession
from simulators.chaos.simclock import SimClock
from simulators.local_api import LocalBotAPI
from utils.circuit_breaker import CircuitOpenError
from utils.rate_limit import RateLimiter

logger = logging.getLogger(__name__)
SETTLE_TURNS = 500


@dataclass
class Database:
    """Where the app's data lives; `observe` reads it directly, never through the app."""

    engine_name: str  # "sqlite" or "postgresql"
    app_url: str  # what the app connects to (through the proxy on PostgreSQL)
    observer: AsyncEngine
    proxy: PgProxy | None = None
    sqlite_dir: Path | None = None

    async def rows(self, sql: str, **params: Any) -> Sequence[Any]:
        async with self.observer.connect() as conn:
            return (await conn.execute(text(sql), params)).all()

    async def write(self, sql: str, **params: Any) -> None:
        async with self.observer.begin() as conn:
            await conn.execute(text(sql), params)


@dataclass
class World:
    settings: Settings
    sim: SimClock
    api: LocalBotAPI
    db: Database
    app: App | None = None
    bot: Bot | None = None
    dp: Dispatcher | None = None
    specs: list[JobSpec] = field(default_factory=list)
    due: dict[str, float] = field(default_factory=dict)
    offset: int | None = None
    seed: int = 0
    boots: int = 0
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    holder: asyncio.Task[Any] | None = None  # a lock conflict's other process (SQLite)

    @property
    def running(self) -> App:
        if self.app is None:
            raise RuntimeError("the app is not running")
        return self.app

    async def boot(self) -> None:
        """What `bot/runner.py:running()` does at start-up, on the simulated clock."""
        session = SimTimeoutSession(self.sim)
        session.api = TelegramAPIServer.from_base(self.api.base_url)
        bot = create_bot(self.settings, session=session)
        engine = create_engine(self.db.app_url, monotonic=self.sim.monotonic)
        app = create_app(
            self.settings,
            bot,
            clock=self.sim,
            engine=engine,
            monotonic=self.sim.monotonic,
            sleep=self.sim.sleep,
        )
        # The sender's waits between sends pass simulated time (its limiter is the same kind).
        app.sender.limiter = RateLimiter(
            self.settings.outbox.rate_per_second,
            self.settings.outbox.per_chat_per_second,
            clock=self.sim.monotonic,
            sleep=self.sim.sleep,
        )
        # Its backoff jitter is seeded: the same seed, the same retry moments.
        app.sender.random = random.Random(f"sender:{self.seed}:{self.boots}").random
        self.app, self.bot, self.dp = app, bot, create_dispatcher(app)
        self.offset = None  # a new process knows no offset: unconfirmed updates come again
        self.boots += 1
        with contextlib.suppress(Exception):
            await app.users.ensure_admins()
        try:
            await set_commands(bot, app.i18n)
            await sync_staff_menus(bot, app.users, app.i18n)
        except (TelegramAPIError, TelegramNetworkError, CircuitOpenError, OSError) as exc:
            logger.info("could not register commands: %s", exc)
        except Exception as exc:  # the database may be down at start-up too
            logger.info("start-up step failed: %s", exc)
        self.specs = job_specs(app)
        now = self.sim.seconds
        self.due = {s.job_id: now + s.interval_seconds for s in self.specs}
        spool = next(s for s in self.specs if s.job_id == "flush_error_spool")
        await guarded(app, spool.job_id, spool.work)()

    async def kill(self) -> None:
        """The process dies: its tasks stop where they are, nothing is shut down in order."""
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(BaseException):
                await task
        self.tasks.clear()
        app, bot, dp = self.app, self.bot, self.dp
        self.app = self.bot = self.dp = None
        if app is None or bot is None or dp is None:
            return
        # What the operating system does for a dead process: its sockets close (an open
        # transaction rolls back on the server); nothing else runs.
        with contextlib.suppress(Exception):
            await app.engine.dispose()
        with contextlib.suppress(Exception):
            await bot.session.close()

    async def shutdown(self) -> None:
        """The orderly stop at the end of the run (what SIGTERM does)."""
        app, bot, dp = self.app, self.bot, self.dp
        if app is None or bot is None or dp is None:
            return
        await app.healer.shutdown()
        await app.bulk.shutdown()
        await dp.storage.close()
        await bot.session.close()
        await app.engine.dispose()
        self.app = self.bot = self.dp = None

    # -- one tick of the running process --------------------------------------------------

    async def poll(self) -> int:
        """One getUpdates (as long polling does) and every update handled; False if it failed."""
        bot, dp = self.bot, self.dp
        if bot is None or dp is None:
            return 0
        try:
            updates = await bot.get_updates(offset=self.offset, timeout=0)
        except (TelegramAPIError, TelegramNetworkError, OSError):
            return 0  # aiogram's polling backs off and asks again; so do we, next tick
        for update in updates:
            await dp.feed_update(bot, update)
            self.offset = update.update_id + 1
        return len(updates)

    async def jobs(self, only: set[str] | None = None) -> None:
        app = self.running
        for spec in self.specs:
            if self.sim.seconds < self.due[spec.job_id] or (only and spec.job_id not in only):
                continue
            self.due[spec.job_id] = self.sim.seconds + spec.interval_seconds
            await guarded(app, spec.job_id, spec.work, exclusive=spec.exclusive)()

    async def deliver(self) -> None:
        """The sender's loop: a flush on every kick and poll (a tick is shorter than both)."""
        with contextlib.suppress(Exception):  # its loop logs and goes on
            await self.running.sender.flush()

    async def settle(self) -> None:
        """Let recoveries the app started in the background finish within the tick (they
        take milliseconds; waiting for them keeps a seeded run the same run)."""
        app = self.app
        for _ in range(SETTLE_TURNS):
            if app is None or not app.healer.in_flight():
                return
            await asyncio.sleep(0.001)

    async def tick(self, seconds: float) -> None:
        self.sim.advance(seconds)
        await self.poll()
        await self.settle()
        await self.jobs()
        await self.deliver()
        await self.settle()
