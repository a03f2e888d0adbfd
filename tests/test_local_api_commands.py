"""Command menus on the local Bot API server, set by aiogram as the bot sets them: one list per
scope and language, and the menu a person sees picked the way a Telegram app picks it."""

from __future__ import annotations

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault

from simulators.local_api import LocalBotAPI

TOKEN = "123456:LOCAL"


def menu(*names: str) -> list[BotCommand]:
    return [BotCommand(command=n, description=f"about {n}") for n in names]


async def test_menus_per_scope_and_language_and_what_a_person_sees() -> None:
    async with LocalBotAPI(TOKEN) as api:
        session = AiohttpSession()
        session.api = TelegramAPIServer.from_base(api.base_url)
        bot = Bot(TOKEN, session=session)
        try:
            await bot.set_my_commands(menu("help"), BotCommandScopeDefault())
            await bot.set_my_commands(menu("pomosh"), BotCommandScopeDefault(), language_code="ru")
            await bot.set_my_commands(menu("help", "health"), BotCommandScopeChat(chat_id=7))
            assert [c.command for c in await bot.get_my_commands(language_code="ru")] == ["pomosh"]
            assert [c["command"] for c in api.menu_for(5, "ru")] == ["pomosh"]
            assert [c["command"] for c in api.menu_for(5, "es")] == ["help"]  # no es: default
            assert [c["command"] for c in api.menu_for(7, "ru")] == ["help", "health"]
            await bot.delete_my_commands(BotCommandScopeChat(chat_id=7))
            assert [c["command"] for c in api.menu_for(7, "ru")] == ["pomosh"]
            await bot.set_my_commands([], BotCommandScopeDefault(), language_code="ru")
            assert api.menu_for(5, "ru") == [{"command": "help", "description": "about help"}]
            with pytest.raises(TelegramBadRequest, match="invalid language code"):
                await bot.set_my_commands(menu("x"), language_code="english")
        finally:
            await bot.session.close()


async def test_bad_command_lists_are_refused_as_telegram_refuses_them() -> None:
    async with LocalBotAPI(TOKEN) as api, aiohttp.ClientSession() as http:
        url = f"{api.base_url}/bot{TOKEN}/setMyCommands"
        for body, error in (
            ({"commands": "help"}, "commands must be a list"),
            ({"commands": [{"command": "", "description": "x"}]}, "1-32 characters"),
            ({"commands": [{"command": "a", "description": ""}]}, "1-256 characters"),
            ({"commands": [], "scope": {"type": "chat"}}, "chat not found"),
            ({"commands": [], "scope": "default"}, "can't parse BotCommandScope"),
        ):
            async with http.post(url, json=body) as answer:
                assert answer.status == 400
                assert error in (await answer.json())["description"]
        assert api.command_menus == {}
