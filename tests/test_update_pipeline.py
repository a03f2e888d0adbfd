"""What one update costs the database, counted through the real Dispatcher (statements, not
time), and the per-user cache behind it: answers at once to what this process changes, and
within USER_CACHE_SECONDS to what another process (a replica, the command line) changes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.factory import create_app
from core.clock import FrozenClock
from core.enums import Role
from core.settings import Settings
from database.models import User
from services.requests import Line
from tests.conftest import World, make_world
from tests.factories import person, stock
from tests.support.client import TelegramClient, strip_reference

REFUSED = "Your access to this bot is turned off. Ask an admin."


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """The first word of every SQL statement sent meanwhile; BEGIN included on both engines
    (asyncpg sends it outside the cursor, so it is counted from the transaction event)."""
    seen: list[str] = []
    postgres = engine.dialect.name == "postgresql"

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement.split(None, 1)[0].upper())

    def on_begin(conn: Any) -> None:
        autocommit = conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        if postgres and not autocommit:  # asyncpg sends no BEGIN in autocommit
            seen.append("BEGIN")

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", on_execute)
    event.listen(sync, "begin", on_begin)
    try:
        yield seen
    finally:
        event.remove(sync, "before_cursor_execute", on_execute)
        event.remove(sync, "begin", on_begin)


async def requester_with_requests(world: World, count: int = 7) -> TelegramClient:
    await stock(world, ("P-1", "Pens", 100), ("P-2", "Paper", 100))
    await person(world, 2, Role.MANAGER)
    await world.client(2, "Max").send("/start")
    ann = world.client(1, "Ann")
    await ann.send("/start")
    user_id = await db_user_id(world, 1)
    items = (await world.app.inventory.page(0, 5))[0]
    for n in range(count):
        lines = [Line(items[0].id, n + 1)] + ([Line(items[1].id, 2)] if n % 2 else [])
        await world.app.requests.create(user_id, lines)
    return ann


async def db_user_id(world: World, telegram_id: int) -> int:
    async with world.app.sessionmaker() as session:
        return int(await session.scalar(select(User.id).where(User.telegram_id == telegram_id)))


async def test_my_requests_is_one_select(world: World) -> None:
    ann = await requester_with_requests(world)
    with statements(world.app.engine) as seen:
        await ann.send("/my_requests")
    assert seen == ["SELECT"]  # no transaction: one read statement in autocommit
    assert ann.last_reply().startswith(
        "Your requests (page 1 of 2):\n\n"
        "#7 — in progress\nStage: Manager approval\nWith: Max\n• Paper: 7 pcs\n\n"
        "#6 — in progress\nStage: Manager approval\nWith: Max\n• Paper: 6 pcs\n• Pens: 2 pcs\n\n"
    )
    assert ann.last_reply().count("\n\n#") == 5  # five requests on the page, #7 to #3
    assert ann.last_reply().endswith(
        "\n\n#3 — in progress\nStage: Manager approval\nWith: Max\n• Paper: 3 pcs"
    )

    await ann.click("Next »")
    assert ann.last_reply() == (
        "Your requests (page 2 of 2):\n\n"
        "#2 — in progress\nStage: Manager approval\nWith: Max\n• Paper: 2 pcs\n• Pens: 2 pcs\n\n"
        "#1 — in progress\nStage: Manager approval\nWith: Max\n• Paper: 1 pcs"
    )


async def test_a_page_past_the_end_shows_the_first(world: World) -> None:
    ann = await requester_with_requests(world, count=2)
    message = await world.app.requests.for_requester(await db_user_id(world, 1), 3, 5)
    assert message == ([], 2)
    await ann.send("/my_requests")
    assert ann.last_reply().startswith("Your requests (page 1 of 1):\n\n#2 — in progress")


async def test_a_known_person_costs_no_statement_and_no_write(world: World) -> None:
    ann = world.client(1, "Ann")
    await ann.send("/start")
    with statements(world.app.engine) as seen:
        await ann.send("/help")
        await ann.send("/start")
    assert seen == []
    assert ann.last_reply().startswith("Welcome back, Ann! Your roles: requester.")


async def test_after_the_cache_a_known_person_is_read_not_written(
    settings: Settings, engine: AsyncEngine, clock: FrozenClock
) -> None:
    world = make_world(settings.model_copy(update={"user_cache_seconds": 0}), engine, clock)
    ann = world.client(1, "Ann")
    await ann.send("/start")
    assert ann.last_reply().startswith("Hello, Ann! You are registered.")
    with statements(world.app.engine) as seen:
        await ann.send("/help")
    assert seen == ["SELECT"]  # the user and their roles in one statement, no transaction
    with statements(world.app.engine) as seen:
        await world.client(1, "Anna", username="anna").send("/help")
    assert "UPDATE" in seen
    async with world.app.sessionmaker() as session:
        user = (await session.execute(select(User).where(User.telegram_id == 1))).scalar_one()
    assert (user.full_name, user.username) == ("Anna", "anna")
    await world.app.healer.shutdown()


async def test_a_new_name_is_written_at_once_despite_the_cache(world: World) -> None:
    await world.client(1, "Ann").send("/start")
    renamed = world.client(1, "Anna")
    await renamed.send("/start")
    assert renamed.last_reply().startswith("Welcome back, Anna!")
    async with world.app.sessionmaker() as session:
        name = await session.scalar(select(User.full_name).where(User.telegram_id == 1))
    assert name == "Anna"


async def test_a_person_an_admin_added_before_they_wrote_is_greeted_as_new(world: World) -> None:
    await person(world, 5, Role.MANAGER)
    max_ = world.client(5, "Max")
    await max_.send("/start")
    assert max_.last_reply().startswith("Hello, Max! You are registered.")
    await max_.send("/start")
    assert max_.last_reply().startswith("Welcome back, Max!")


async def test_changes_made_through_this_process_take_effect_at_once(world: World) -> None:
    ann = world.client(1, "Ann")
    await ann.send("/start")
    await world.app.users.grant(1, Role.MANAGER)
    await ann.send("/start")
    assert ann.last_reply().startswith("Welcome back, Ann! Your roles: manager, requester.")
    await world.app.users.revoke(1, Role.MANAGER)
    await ann.send("/start")
    assert ann.last_reply().startswith("Welcome back, Ann! Your roles: requester.")

    await world.app.users.set_active(1, False)
    await ann.send("/help")
    assert strip_reference(ann.last_reply()) == REFUSED
    await world.app.users.set_active(1, True)
    await ann.send("/help")
    assert ann.last_reply().startswith("What you can do:")

    await ann.send("/language")
    await ann.click("Español")
    await ann.send("/start")
    assert ann.last_reply().startswith("¡Hola de nuevo, Ann!")


async def test_another_process_is_seen_within_the_cache_time(
    settings: Settings, engine: AsyncEngine, clock: FrozenClock
) -> None:
    monotonic = FakeMonotonic()
    world = make_world(settings, engine, clock, monotonic)
    ann = world.client(1, "Ann")
    await ann.send("/start")
    other = create_app(settings, clock=clock, engine=engine)  # the command line, a replica
    await other.users.set_active(1, False)

    monotonic.now += settings.user_cache_seconds - 1
    await ann.send("/help")
    assert ann.last_reply().startswith("What you can do:")  # still the cached copy
    monotonic.now += 1
    await ann.send("/help")
    assert strip_reference(ann.last_reply()) == REFUSED
    await world.app.healer.shutdown()


@pytest.mark.parametrize(
    ("language", "first", "again"),
    [
        ("en", "Hello, Ann! You are registered.", "Welcome back, Ann! Your roles: requester."),
        ("ru", "Здравствуйте, Ann! Вы зарегистрированы.", "С возвращением, Ann! Ваши роли:"),
        ("es", "¡Hola, Ann! Tu registro está listo.", "¡Hola de nuevo, Ann! Tus roles:"),
    ],
)
async def test_welcome_back_in_each_language(
    world: World, language: str, first: str, again: str
) -> None:
    ann = world.client(1, "Ann", language_code=language)
    await ann.send("/start")
    assert ann.last_reply().startswith(first)
    await ann.send("/start")
    assert ann.last_reply().startswith(again)
