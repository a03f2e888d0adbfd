"""Long polling: how the bot runs in this version (webhook mode comes with the HTTP server)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiogram.exceptions import TelegramAPIError, TelegramNetworkError
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage

from bot.config import Settings
from bot.factory import create_app, create_bot, create_dispatcher, set_commands
from bot.scheduler import create_scheduler

logger = logging.getLogger(__name__)


def create_storage(settings: Settings) -> BaseStorage:
    if settings.redis_url is None:
        return MemoryStorage()
    from aiogram.fsm.storage.redis import RedisStorage

    return RedisStorage.from_url(settings.redis_url.get_secret_value())


async def run_polling(settings: Settings) -> None:
    bot = create_bot(settings)
    app = create_app(settings, bot)
    dp = create_dispatcher(app, create_storage(settings))
    await app.users.ensure_admins()
    try:
        await set_commands(bot, app.i18n)
        await bot.delete_webhook(drop_pending_updates=False)
    except (TelegramAPIError, TelegramNetworkError) as exc:
        # Not fatal: polling retries the connection on its own; the menu is set next start.
        logger.warning("could not register commands or clear the webhook: %s", exc)
    sender = asyncio.create_task(app.outbox.run(settings.outbox_poll_seconds), name="outbox")
    scheduler = create_scheduler(app)
    scheduler.start()
    # Records spooled while the database was down (even before a restart) go in first.
    await scheduler.get_job("flush_error_spool").func()
    try:
        await dp.start_polling(bot, allowed_updates=dp.resolve_used_update_types())
    finally:
        scheduler.shutdown(wait=False)
        await app.recovery.shutdown()
        await app.actions.shutdown()
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        await dp.storage.close()
        await bot.session.close()
        await app.engine.dispose()
