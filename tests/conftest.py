from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiogram import Bot, Dispatcher
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.factory import App, create_app, create_bot, create_dispatcher
from core.clock import FrozenClock
from core.settings import Settings
from database.engine import create_sessionmaker
from tests.support import db
from tests.support.client import TelegramClient
from tests.support.recording import RecordingSession

ADMIN_TG_ID = 900


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    url = db.create_pg_database()

    async def init() -> None:
        engine = db.new_engine(url)
        await db.create_schema(engine)
        await engine.dispose()

    db.run_in_thread(init())
    yield url
    db.drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database with no schema, for migrations and the command line."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'data' / 'fresh.sqlite3'}"
        return
    url = db.create_pg_database()
    yield url
    db.drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def engine(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[AsyncEngine]:
    if backend == "sqlite":
        engine = db.new_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}")
        await db.create_schema(engine)
    else:
        engine = db.new_engine(request.getfixturevalue("pg_url"))
        await db.empty_pg(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        bot_token="42:TEST-TOKEN",  # type: ignore[arg-type]
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite3'}",  # type: ignore[arg-type]
        admin_ids=(ADMIN_TG_ID,),
        max_quantity=100,
        items_page_size=3,
        error={"spool_path": tmp_path / "spool" / "errors.jsonl"},
        # Story tests send several messages to one chat at once; the limiter has its own tests.
        outbox={"rate_per_second": 10_000, "per_chat_per_second": 10_000},
        # Story tests type faster than a person; the flood control has its own tests.
        throttle={"burst": 1_000_000},
        _env_file=None,  # type: ignore[call-arg]
    )


@dataclass
class World:
    app: App
    bot: Bot
    dp: Dispatcher
    session: RecordingSession

    def client(
        self,
        user_id: int,
        first_name: str = "Ann",
        language_code: str | None = "en",
        username: str | None = None,
    ) -> TelegramClient:
        return TelegramClient(self.dp, self.bot, user_id, first_name, language_code, username)

    async def deliver(self) -> int:
        """Send what the outbox holds, as the background sender would after a commit."""
        return await self.app.outbox.flush()


def make_world(
    settings: Settings,
    engine: AsyncEngine,
    clock: FrozenClock,
    monotonic: Callable[[], float] = time.monotonic,
) -> World:
    """The bot as production builds it, with a recording Telegram session."""
    session = RecordingSession()
    bot = create_bot(settings, session=session)
    app = create_app(settings, bot, clock=clock, engine=engine, monotonic=monotonic)
    return World(app=app, bot=bot, dp=create_dispatcher(app), session=session)


@pytest.fixture
async def world(
    settings: Settings, engine: AsyncEngine, clock: FrozenClock
) -> AsyncIterator[World]:
    world = make_world(settings, engine, clock)
    yield world
    await world.app.healer.shutdown()
    await world.app.bulk.shutdown()
    await world.dp.storage.close()
