"""`python -m bot [command]`: run the bot, migrate, and the operator's tools without Telegram.

One module per command group; each command takes the app `bot.factory.create_app` builds, the
same services the running bot uses (without a bot to send with)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from bot.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from bot.cli.parser import build_parser
from bot.logs import configure_logging
from core.settings import ConfigError, Settings, load_settings
from core.workflows import load_workflows

if TYPE_CHECKING:
    from bot.factory import App

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings)
        return dispatch(args, settings)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        if not _database_error(exc):
            raise
        print(f"error: cannot use the database: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK


def _database_error(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return True
    # SQLAlchemy is loaded only by the commands that use a database: no import for --help.
    if "sqlalchemy" not in sys.modules:
        return False
    from sqlalchemy.exc import DBAPIError, OperationalError

    return isinstance(exc, OperationalError | DBAPIError)


def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from database.migrate import upgrade

    command = args.command or "run"
    if command == "run":
        settings.require_token()
        load_workflows(settings.workflows_file)  # refuse to start on a bad file
        upgrade(settings.database_url_value)
        from bot.runner import run_polling, run_webhook

        asyncio.run(run_webhook(settings) if settings.webhook.enabled else run_polling(settings))
        # Everything is stopped, flushed and closed by now. Without this the interpreter spends
        # about a second collecting aiogram's thousands of classes before the process ends;
        # frozen objects are left to the operating system (atexit and log flushes still run).
        gc.freeze()
        return EXIT_OK
    if command == "sandbox":
        # A simulator, not the product: loaded only here, the one import of it (SPEC §4's command).
        # Its own database, settings and event loop; refuses to run next to a real token.
        from simulators.sandbox.main import sandbox_command

        sandbox_command(args, settings)
        return EXIT_OK
    if command == "chaos":
        # A simulator, not the product: loaded only here, the one import of it (SPEC §4's command).
        # Its own scratch database and apps: the operator's database is never touched.
        from simulators.chaos.command import chaos_command

        passed = asyncio.run(chaos_command(args, settings))
        return EXIT_OK if passed else EXIT_FAILED
    if command == "migrate":
        revision = upgrade(settings.database_url_value)
        print(f"database is at the latest schema (revision {revision})")
        return EXIT_OK
    # `health` does not migrate first: an unreachable or outdated database is what it reports.
    if command != "health":
        upgrade(settings.database_url_value)
    module, name = COMMANDS[command]
    handler = getattr(importlib.import_module(module), name)
    return asyncio.run(with_app(settings, lambda app: handler(args, app)))


# Each command group's module is imported only when it runs.
COMMANDS = {
    "users": ("bot.cli.people", "users_command"),
    "items": ("bot.cli.inventory", "items_command"),
    "reconcile": ("bot.cli.inventory", "reconcile_command"),
    "errors": ("bot.cli.records", "errors_command"),
    "cleanup": ("bot.cli.records", "cleanup_command"),
    "stuck": ("bot.cli.stuck", "stuck_command"),
    "notifications": ("bot.cli.notifications", "notifications_command"),
    "health": ("bot.cli.health", "health_command"),
}


async def with_app(settings: Settings, work: Callable[[App], Awaitable[int]]) -> int:
    """The command line builds its services with the bot's own factory, without a bot."""
    from bot.factory import create_app

    app = create_app(settings)
    try:
        return await work(app)
    finally:
        await app.engine.dispose()
