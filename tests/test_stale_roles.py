"""An admin-only "Yes" is decided by the roles the database holds when it applies, not by the
copy the user middleware cached for USER_CACHE_SECONDS (issue 27).

The admin opens a confirmation; another process (the command line) or another session revokes
the role or deactivates them; the admin presses "Yes" while their cached copy still says
admin. Nothing is applied, they are told the section's refusal in their language, and the
refused press is audited as any refused change is: a rolled-back row of the transaction log."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from alembic import command
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.clock import FrozenClock
from core.enums import Role, TransactionOutcome
from core.settings import Settings
from database.migrate import alembic_config
from database.models import Confirmation, TransactionLog, User, UserRole
from tests.conftest import World, make_world
from tests.factories import person
from tests.support.client import TelegramClient
from tests.test_confirmations import CASES, Case, answer_of, inventory_state, item_counted

ROOT = Path(__file__).resolve().parents[1]
ADMIN = 905  # not a config admin: the role is the database's to give and take
ROLE_MAY_NOT = "Your role may not run this action."
CHANGE_INVENTORY = "Only admins can change inventory. Support can only look."
REFUSALS = {  # the section's words; recovery's are its planner's
    "reconcile_apply": CHANGE_INVENTORY,
    "set_counted": CHANGE_INVENTORY,
    "notification_retry": "Only admins and support can manage notifications.",
    "notification_retry_all": "Only admins and support can manage notifications.",
    "notification_discard": "Only admins can discard notifications.",
    "notification_discard_all": "Only admins can discard notifications.",
    "resolve_error": "Only admins can resolve errors.",
    "recovery_action": ROLE_MAY_NOT,
    "recovery_bulk": ROLE_MAY_NOT,
}
OPERATIONS = {  # the transaction that would have applied it
    "reconcile_apply": "reconcile_inventory",
    "set_counted": "set_counted_quantity",
    "notification_retry": "retry_notification",
    "notification_retry_all": "retry_notification",
    "notification_discard": "discard_notification",
    "notification_discard_all": "discard_notification",
    "resolve_error": "resolve_error",
    "recovery_action": "recovery_force_complete",
    "recovery_bulk": "start_bulk_recovery",
}


@pytest.fixture
async def cached_world(
    settings: Settings, engine: AsyncEngine, clock: FrozenClock
) -> AsyncIterator[World]:
    """The bot with a cache window no slow machine outlasts: every press below is inside it."""
    world = make_world(settings.model_copy(update={"user_cache_seconds": 3600.0}), engine, clock)
    yield world
    await world.app.healer.shutdown()
    await world.app.bulk.shutdown()
    await world.dp.storage.close()


async def revoke_elsewhere(world: World, telegram_id: int) -> None:
    """Another replica's session takes the role: this process's cache is not told."""
    async with world.app.sessionmaker() as session, session.begin():
        user_id = await session.scalar(select(User.id).where(User.telegram_id == telegram_id))
        await session.execute(
            delete(UserRole).where(UserRole.user_id == user_id, UserRole.role == Role.ADMIN)
        )


async def refused_rows(world: World, operation: str) -> list[tuple[int | None, str | None]]:
    async with world.app.sessionmaker() as session:
        found = await session.execute(
            select(TransactionLog.actor_id, TransactionLog.error).where(
                TransactionLog.operation == operation,
                TransactionLog.outcome == TransactionOutcome.ROLLED_BACK,
            )
        )
        return [(actor, error) for actor, error in found.all()]


async def admin_id(world: World) -> int:
    async with world.app.sessionmaker() as session:
        found = await session.scalar(select(User.id).where(User.telegram_id == ADMIN))
        assert found is not None
        return found


async def open_confirmation(world: World, case: Case) -> tuple[TelegramClient, Message]:
    await case.setup(world)
    await person(world, ADMIN, Role.ADMIN)
    admin = world.client(ADMIN, "Root")
    await case.reach(admin)  # the admin is cached, as admin, from here on
    return admin, admin.find_button_message(case.yes)


@pytest.mark.parametrize("kind", list(CASES))
async def test_a_role_revoked_elsewhere_applies_nothing(cached_world: World, kind: str) -> None:
    world, case = cached_world, CASES[kind]
    admin, screen = await open_confirmation(world, case)
    before = await case.state(world)
    await revoke_elsewhere(world, ADMIN)
    await admin.click_on(screen, case.yes)
    await case.settle(world)
    assert answer_of(admin) == REFUSALS[kind]
    assert admin.replies() == []
    assert await case.state(world) == before
    # The press reached the service (the cached role let it through) and was refused there.
    assert await refused_rows(world, OPERATIONS[kind]) == [
        (await admin_id(world), f"PermissionDenied: {REFUSALS[kind]}")
    ]
    async with world.app.sessionmaker() as session:
        [record] = await session.scalars(select(Confirmation))
    assert (record.used_at, record.outcome) == (None, None)  # nothing applied: not used up


async def test_a_deactivated_admin_posts_no_adjustment(cached_world: World) -> None:
    world, case = cached_world, CASES["set_counted"]
    admin, screen = await open_confirmation(world, case)
    async with world.app.sessionmaker() as session, session.begin():
        await session.execute(
            update(User).where(User.telegram_id == ADMIN).values(is_active=False)
        )
    await admin.click_on(screen, case.yes)
    assert answer_of(admin) == CHANGE_INVENTORY
    assert await inventory_state(world) == ({"A": 20}, 1, 0)


def cli(url: str, *args: str) -> str:
    """`python -m bot …` in a process of its own, as an operator runs it."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ADMIN_IDS")}
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env={**env, "DATABASE_URL": url, "BOT_TOKEN": "", "ADMIN_IDS": ""},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout


async def test_the_command_line_revokes_and_the_next_press_posts_no_adjustment(
    cached_world: World,
) -> None:
    """The issue's case, in Spanish: revoked with `python -m bot users revoke` in another process
    while the confirmation is open; "Yes" within the cache window posts nothing."""
    world = cached_world
    i18n = world.app.i18n

    def tr(message: str) -> str:
        with i18n.context(), i18n.use_locale("es"):
            return str(_(message))

    await item_counted(world)
    await person(world, ADMIN, Role.ADMIN)
    url = world.app.engine.url.render_as_string(hide_password=False)
    # The tests build the schema from the models; the command line migrates first: tell it the
    # schema is the latest.
    await asyncio.to_thread(command.stamp, alembic_config(url), "head")
    admin = world.client(ADMIN, "Raúl", "es")
    await admin.send("/reconcile")
    await admin.click(tr("Open findings"))
    await admin.click(tr("Count an item by SKU"))
    await admin.send("A")
    await admin.send("18")
    await admin.click(tr("Damaged or lost"))
    screen = admin.find_button_message(tr("Yes, post it"))
    out = await asyncio.to_thread(cli, url, "users", "revoke", str(ADMIN), "admin")
    assert out == f"{ADMIN} now has roles: requester\n"
    await admin.click_on(screen, tr("Yes, post it"))
    assert answer_of(admin) == "Solo los administradores pueden cambiar el inventario. " + (
        "El soporte solo puede mirar."
    )
    assert await inventory_state(world) == ({"A": 20}, 1, 0)  # no adjustment, no new figure
    assert await refused_rows(world, "set_counted_quantity") == [
        (await admin_id(world), f"PermissionDenied: {CHANGE_INVENTORY}")
    ]
