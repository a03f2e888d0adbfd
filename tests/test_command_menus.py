"""Staff get their own command menu (their chat's scope, their language) and their commands in
/start and /help; the menu follows role and language changes. Asserted on the recorded Bot API
calls and on the rows."""

from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import DeleteMyCommands, SetMyCommands
from aiogram.methods import SetMyCommands as Set
from aiogram.types import BotCommandScopeChat
from sqlalchemy import select

from bot.commands import ADMIN, EVERYONE, SUPPORT, sync_staff_menus
from core.enums import Role
from database.models import User
from tests.conftest import ADMIN_TG_ID, World
from tests.factories import person

SUPPORT_TG = 700
MANAGER_TG = 800


async def sync(world: World) -> int:
    return await sync_staff_menus(world.bot, world.app.users, world.app.i18n)


def menus(world: World, since: int = 0) -> list[tuple[str, int, list[str], dict[str, str]]]:
    out = []
    for call in world.session.calls[since:]:
        if isinstance(call, SetMyCommands | DeleteMyCommands):
            assert isinstance(call.scope, BotCommandScopeChat) and call.language_code is None
            names = [c.command for c in call.commands] if isinstance(call, Set) else []
            texts = (
                {c.command: c.description for c in call.commands} if isinstance(call, Set) else {}
            )
            out.append((type(call).__name__, int(call.scope.chat_id), names, texts))
    return out


async def stored(world: World) -> dict[int, str | None]:
    async with world.app.sessionmaker() as session:
        rows = (await session.execute(select(User.telegram_id, User.command_menu))).all()
    return {int(t): m for t, m in rows}


async def test_staff_menus_follow_roles_and_languages(world: World) -> None:
    await world.app.users.ensure_admins()
    await person(world, SUPPORT_TG, Role.SUPPORT)
    await person(world, MANAGER_TG, Role.MANAGER)
    support = await world.app.users.grant(SUPPORT_TG, Role.SUPPORT)
    await world.app.users.set_language(support.id, "ru")

    assert await sync(world) == 2
    [admin_menu, support_menu] = menus(world)
    assert admin_menu[:3] == ("SetMyCommands", ADMIN_TG_ID, list(ADMIN))
    assert admin_menu[3]["health"] == "System health"
    assert admin_menu[3]["workflow_recovery"] == "Stuck requests, errors, recovery log"
    assert support_menu[:3] == ("SetMyCommands", SUPPORT_TG, list(SUPPORT))
    assert "health" not in support_menu[2]
    assert support_menu[3]["reconcile"] == "Сверить остатки с журналом движений"
    assert await stored(world) == {
        ADMIN_TG_ID: "admin:en",
        SUPPORT_TG: "support:ru",
        MANAGER_TG: None,
    }

    # Nothing changed: Telegram is not asked again.
    seen = len(world.session.calls)
    assert await sync(world) == 0
    assert menus(world, seen) == []

    # Revoked: the chat falls back to everyone's menu; promoted: the admin menu.
    await world.app.users.revoke(SUPPORT_TG, Role.SUPPORT)
    await world.app.users.grant(MANAGER_TG, Role.ADMIN)
    assert await sync(world) == 2
    assert [m[:3] for m in menus(world, seen)] == [
        ("DeleteMyCommands", SUPPORT_TG, []),
        ("SetMyCommands", MANAGER_TG, list(ADMIN)),
    ]
    assert (await stored(world))[SUPPORT_TG] is None

    # A deactivated admin loses the staff menu too.
    seen = len(world.session.calls)
    await world.app.users.set_active(MANAGER_TG, False)
    assert await sync(world) == 1
    assert [m[:2] for m in menus(world, seen)] == [("DeleteMyCommands", MANAGER_TG)]


async def test_a_chat_telegram_does_not_know_is_tried_again_later(world: World) -> None:
    await world.app.users.ensure_admins()
    world.session.refuse_next(
        SetMyCommands,
        TelegramBadRequest(SetMyCommands(commands=[]), "Bad Request: chat not found"),
    )
    assert await sync(world) == 0
    assert (await stored(world))[ADMIN_TG_ID] is None
    assert await sync(world) == 1
    assert (await stored(world))[ADMIN_TG_ID] == "admin:en"


async def test_start_and_help_list_the_commands_of_each_role(world: World) -> None:
    await world.app.users.ensure_admins()
    await person(world, SUPPORT_TG, Role.SUPPORT)
    requester = world.client(555, "Rita")
    await requester.send("/help")
    assert "/workflow_recovery" not in requester.last_reply()
    assert requester.last_reply().startswith("What you can do:")

    support = world.client(SUPPORT_TG, "Sue")
    await support.send("/help")
    assert "For staff:\n/workflow_recovery — stuck requests, errors and the recovery log" in (
        support.last_reply()
    )
    assert "/error E-XXXXXX — look up an error by its reference code" in support.last_reply()
    assert "/health" not in support.last_reply()

    admin = world.client(ADMIN_TG_ID, "Root", language_code="es")
    await admin.send("/start")
    assert "/health — " in admin.last_reply() and "/reconcile — " in admin.last_reply()
    assert "Para el personal:" in admin.last_reply()
    assert set(EVERYONE) <= set(ADMIN)
