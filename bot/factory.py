"""Pure factories: the bot, the services and the dispatcher. Nothing is built at import time."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import BotCommand, BotCommandScopeDefault
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock, SystemClock
from bot.config import SUPPORTED_LOCALES, Settings
from bot.i18n import create_i18n
from bot.notifications import Renderer
from bot.services.inventory import InventoryService
from bot.services.outbox import OutboxSender
from bot.services.requests import RequestService
from bot.services.users import UserService
from bot.workflows import WorkflowRegistry, load_workflows
from database.engine import create_engine, create_sessionmaker
from handlers import get_routers
from middlewares.errors import ErrorMiddleware
from middlewares.locale import LocaleMiddleware
from middlewares.user import UserMiddleware


def create_bot(settings: Settings, session: BaseSession | None = None) -> Bot:
    if session is None:
        session = AiohttpSession()
        if settings.telegram_api_url:
            session.api = TelegramAPIServer.from_base(settings.telegram_api_url)
    return Bot(
        token=settings.require_token(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


@dataclass
class App:
    """Everything a running bot shares; reaches handlers as dispatcher workflow data."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    workflows: WorkflowRegistry
    i18n: I18n
    clock: Clock
    users: UserService
    inventory: InventoryService
    requests: RequestService
    outbox: OutboxSender


def create_app(
    settings: Settings,
    bot: Bot,
    *,
    clock: Clock | None = None,
    engine: AsyncEngine | None = None,
) -> App:
    clock = clock or SystemClock()
    workflows = load_workflows(settings.workflows_file)
    engine = engine or create_engine(settings.database_url_value)
    sessionmaker = create_sessionmaker(engine)
    i18n = create_i18n(settings.default_locale)
    outbox = OutboxSender(bot, sessionmaker, Renderer(i18n, workflows), clock)
    return App(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        workflows=workflows,
        i18n=i18n,
        clock=clock,
        users=UserService(sessionmaker, clock, settings.admin_ids),
        inventory=InventoryService(sessionmaker, clock),
        requests=RequestService(
            sessionmaker, workflows, clock, settings.max_quantity, on_commit=outbox.kick
        ),
        outbox=outbox,
    )


def create_dispatcher(app: App, storage: BaseStorage | None = None) -> Dispatcher:
    dp = Dispatcher(
        storage=storage or MemoryStorage(),
        settings=app.settings,
        workflows=app.workflows,
        clock=app.clock,
        users=app.users,
        inventory=app.inventory,
        requests=app.requests,
        outbox=app.outbox,
    )
    # Outermost first: a failure anywhere below, the database included, reaches ErrorMiddleware.
    dp.update.outer_middleware(ErrorMiddleware(app.i18n))
    dp.update.outer_middleware(UserMiddleware(app.users))
    dp.update.outer_middleware(LocaleMiddleware(app.i18n))
    dp.include_routers(*get_routers())
    return dp


async def set_commands(bot: Bot, i18n: I18n) -> None:
    """Register the command menu once per language, plus the default-language fallback."""
    names = ["new_request", "my_requests", "language", "help", "cancel"]
    for locale in (None, *SUPPORTED_LOCALES):
        with i18n.context(), i18n.use_locale(locale or i18n.default_locale):
            commands = [BotCommand(command=n, description=command_description(n)) for n in names]
        await bot.set_my_commands(commands, BotCommandScopeDefault(), language_code=locale)


def command_description(name: str) -> str:
    from aiogram.utils.i18n import gettext as _

    descriptions = {
        "new_request": _("Ask for items from the warehouse"),
        "my_requests": _("Your requests and where they are"),
        "language": _("Choose your language"),
        "help": _("What this bot can do"),
        "cancel": _("Leave what you are doing"),
    }
    return descriptions[name]
