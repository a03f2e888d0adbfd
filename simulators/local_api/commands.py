"""Command menus on the local Bot API server: setMyCommands, deleteMyCommands, getMyCommands.

Telegram keeps one list per (scope, language code) and shows a person the most specific one:
their chat's scope before the default scope, their language before no language. `menu_for`
answers that question the way a Telegram app does, for the sandbox's `/` menu."""

from __future__ import annotations

from typing import Any

from simulators.local_api.wire import JsonDict, Params, bad_request

MAX_COMMANDS = 100
# The scopes the server tells apart; the group and administrator scopes are kept as given.
DEFAULT_SCOPE: JsonDict = {"type": "default"}


def _scope_key(params: Params) -> str:
    scope = params.get("scope") or DEFAULT_SCOPE
    if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
        raise bad_request("can't parse BotCommandScope")
    if scope["type"] == "chat":
        chat_id = scope.get("chat_id")
        if not isinstance(chat_id, int):
            raise bad_request("chat not found")
        return f"chat:{chat_id}"
    return str(scope["type"])


def _language(params: Params) -> str:
    code = params.get("language_code") or ""
    if not isinstance(code, str) or (code and not (2 <= len(code) <= 3 and code.isalpha())):
        raise bad_request("invalid language code specified")
    return code


class CommandMenus:
    """A mixin of `LocalBotAPI`: the command lists the bot set, per scope and language."""

    command_menus: dict[tuple[str, str], list[JsonDict]]

    def _set_my_commands(self, params: Params) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > MAX_COMMANDS:
            raise bad_request("commands must be a list of at most 100 BotCommand")
        menu = []
        for command in commands:
            name = command.get("command") if isinstance(command, dict) else None
            description = command.get("description") if isinstance(command, dict) else None
            if not isinstance(name, str) or not 1 <= len(name) <= 32:
                raise bad_request("command must be 1-32 characters")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise bad_request("command description must be 1-256 characters")
            menu.append({"command": name, "description": description})
        key = (_scope_key(params), _language(params))
        if menu:
            self.command_menus[key] = menu
        else:
            self.command_menus.pop(key, None)  # an empty list deletes, as in Telegram
        return True

    def _delete_my_commands(self, params: Params) -> bool:
        self.command_menus.pop((_scope_key(params), _language(params)), None)
        return True

    def _get_my_commands(self, params: Params) -> list[Any]:
        return list(self.command_menus.get((_scope_key(params), _language(params)), []))

    def menu_for(self, chat_id: int, language_code: str | None) -> list[JsonDict]:
        """The `/` menu a person in a private chat sees, in their app's language."""
        language = language_code or ""
        for scope in (f"chat:{chat_id}", "all_private_chats", "default"):
            for code in (language, ""):
                if menu := self.command_menus.get((scope, code)):
                    return list(menu)
        return []
