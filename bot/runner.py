"""Running the app: long polling (one process) or webhooks (any number of replicas behind a
load balancer, one PostgreSQL). Both serve the HTTP endpoints and run the same scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiohttp import web

from bot.commands import set_commands, sync_staff_menus
from bot.factory import App, create_app, create_bot, create_dispatcher
from bot.http import start_servers, stop_servers
from bot.scheduler import Scheduler, create_scheduler
from core.clock import Clock
from core.settings import Settings
from database.locks import REPLICA_ID
from outbox.leadership import SenderLease, lease_seconds

logger = logging.getLogger(__name__)


def create_storage(settings: Settings) -> BaseStorage:
    if settings.redis_url is None:
        return MemoryStorage()
    from aiogram.fsm.storage.redis import RedisStorage

    return RedisStorage.from_url(settings.redis_url.get_secret_value())


@dataclass
class Running:
    bot: Bot
    app: App
    dp: Dispatcher
    scheduler: Scheduler


@contextlib.asynccontextmanager
async def running(settings: Settings, clock: Clock | None = None) -> AsyncIterator[Running]:
    """Everything but the way updates arrive: outbox sender, scheduler, HTTP server.

    `clock`: the sandbox's clock that its page moves forward; the system clock otherwise."""
    bot = create_bot(settings)
    app = create_app(settings, bot, clock=clock)
    logger.info(
        "starting in %s mode; database %s (%s); HTTP %s%s",
        "webhook" if settings.webhook.enabled else "polling",
        app.engine.dialect.name,
        app.engine.url.render_as_string(hide_password=True),
        f"on {settings.http.host}:{settings.http.port}"
        if settings.webhook.enabled or settings.http.port
        else "off (HTTP_PORT=0)",
        f"; health and metrics on {settings.http.internal_host}:{settings.http.internal_port}"
        if settings.http.internal
        else "",
    )
    dp = create_dispatcher(app, create_storage(settings))
    await app.users.ensure_admins()
    try:
        await set_commands(bot, app.i18n)
        await sync_staff_menus(bot, app.users, app.i18n)
    except (TelegramAPIError, TelegramNetworkError) as exc:
        # Not fatal: the menu is set next start.
        logger.warning("could not register commands: %s", exc)
    poll = settings.outbox.poll_seconds
    # On PostgreSQL (any number of replicas) one replica at a time sends, so Telegram's 30/s is
    # the whole bot's; SQLite is one process, which sends without asking (as try_lock).
    lease = None
    if app.engine.dialect.name == "postgresql":
        lease = SenderLease(app.sessionmaker, app.clock, REPLICA_ID, lease_seconds(poll))
    sender = asyncio.create_task(app.sender.run(poll, lease), name="outbox")
    scheduler = create_scheduler(app)
    scheduler.start()
    # Records spooled while the database was down (even before a restart) go in first.
    await scheduler.get_job("flush_error_spool").func()
    servers: list[web.AppRunner] = []
    try:
        servers = await start_servers(app, dp, bot)
        for server in servers:
            host, port = server.addresses[0][:2]
            logger.info("HTTP server on %s:%s", host, port)
        yield Running(bot, app, dp, scheduler)
    finally:
        # Servers first: the updates in hand finish (or are cancelled unanswered) while the
        # database, scheduler and sender they may need are still there.
        await stop_servers(servers, settings.webhook.drain_seconds)
        await scheduler.stop()  # jobs in flight end (or are cancelled) before the database
        await app.healer.shutdown()
        await app.bulk.shutdown()
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        await dp.storage.close()
        await bot.session.close()
        await app.engine.dispose()


async def run_polling(settings: Settings) -> None:
    async with running(settings) as run:
        try:
            await run.bot.delete_webhook(drop_pending_updates=False)
        except (TelegramAPIError, TelegramNetworkError) as exc:
            # Not fatal: polling retries the connection on its own.
            logger.warning("could not clear the webhook: %s", exc)
        await run.dp.start_polling(run.bot, allowed_updates=run.dp.resolve_used_update_types())


async def run_webhook(settings: Settings) -> None:
    assert settings.webhook.url is not None and settings.webhook.secret is not None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running(settings) as run:
        # Every replica sets the same URL and secret: repeating it is harmless.
        await run.bot.set_webhook(
            url=settings.webhook.url,
            secret_token=settings.webhook.secret.get_secret_value(),
            allowed_updates=run.dp.resolve_used_update_types(),
            drop_pending_updates=False,
        )
        logger.info("webhook mode: updates arrive at %s", settings.webhook.path)
        await stop.wait()
        # The webhook stays set on purpose: other replicas keep taking updates.
