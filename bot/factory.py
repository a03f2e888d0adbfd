"""Pure factories: the bot, the services and the dispatcher. Nothing is built at import time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.fitting import FitRequestMiddleware
from bot.telegram import (
    TELEGRAM_BREAKER,
    BreakerRequestMiddleware,
    ReplyRetryMiddleware,
    telegram_unreachable,
)
from core.clock import Clock, SystemClock
from core.i18n import create_i18n
from core.settings import Settings
from core.workflows import WorkflowRegistry, load_workflows
from database.engine import create_engine, create_sessionmaker, guard_with_breaker
from database.models import User
from handlers import get_routers
from handlers.keyboards import decision_keyboard
from middlewares.callback_answers import ButtonAnswerMiddleware
from middlewares.error_handling import ErrorMiddleware
from middlewares.locale import LocaleMiddleware
from middlewares.metrics import UpdateMetricsMiddleware
from middlewares.scope import HandlerScopeMiddleware
from middlewares.throttle import ThrottleMiddleware
from middlewares.user import UserMiddleware
from outbox.render import Renderer
from outbox.sender import OutboxSender, SenderPolicy
from services.confirmations import ConfirmationService
from services.error_records import ErrorService
from services.failures.classify import DATABASE_BREAKER
from services.failures.recorder import ErrorRecorder
from services.failures.spool import ErrorSpool
from services.failures.strategies import register_strategies
from services.health.jobs import JobMonitor
from services.health.metrics import Metrics
from services.health.service import HealthService
from services.inventory import InventoryService
from services.notification_admin import NotificationAdminService
from services.reconciliation.service import ReconciliationService
from services.recovery.actions import RecoveryActions
from services.recovery.bulk import BulkRecovery
from services.recovery.log import RecoveryLogReader
from services.requests import RequestService
from services.stuck import StuckService
from services.transactions import TransactionalStateManager
from services.users import UserService
from utils.circuit_breaker import CircuitBreaker
from utils.correlation import ErrorCorrelator
from utils.degradation import LastGoodCache
from utils.healing import Healer
from utils.latency import LatencyTracker
from utils.masking import Masker
from utils.rate_limit import RateLimiter
from utils.throttle import Throttle

DEGRADED_USER_MAX_AGE = 3600.0  # seconds a cached user may stand in while the database is down


def create_bot(settings: Settings, session: BaseSession | None = None) -> Bot:
    if session is None:
        session = AiohttpSession()
        if settings.telegram.api_url:
            session.api = TelegramAPIServer.from_base(settings.telegram.api_url)
    session.middleware(FitRequestMiddleware())  # every text within Telegram's limits
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
    masker: Masker
    db_breaker: CircuitBreaker
    telegram_breaker: CircuitBreaker
    tx: TransactionalStateManager
    users: UserService
    inventory: InventoryService
    requests: RequestService
    outbox: OutboxSender | None  # None on the command line: no bot to send with
    recorder: ErrorRecorder
    healer: Healer
    user_cache: LastGoodCache[int, User]
    errors: ErrorService
    stuck: StuckService
    actions: RecoveryActions
    bulk: BulkRecovery
    recovery_log: RecoveryLogReader
    reconciliation: ReconciliationService
    notifications: NotificationAdminService
    confirmations: ConfirmationService
    metrics: Metrics
    jobs: JobMonitor
    telegram_latency: LatencyTracker
    health: HealthService
    throttle: Throttle[int]  # per-person flood control of the dispatcher

    @property
    def sender(self) -> OutboxSender:
        """The outbox sender of an app built with a bot (the bot and its scheduler)."""
        if self.outbox is None:
            raise RuntimeError("this app was built without a bot: it has no sender")
        return self.outbox


def create_app(
    settings: Settings,
    bot: Bot | None = None,
    *,
    clock: Clock | None = None,
    engine: AsyncEngine | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> App:
    """The one place the services are built: for the bot, its scheduler and the command line.

    Without a bot (the command line) there is no sender: what a command queues goes out when
    the running bot's sender next polls, and health reads "unknown" for what only a running
    bot knows (Telegram, its jobs, recoveries in flight). `sleep` is how a reply waits for
    Telegram's retry_after; the chaos run passes its simulated clock's."""
    clock = clock or SystemClock()
    workflows = load_workflows(settings.workflows_file)
    masker = Masker(secrets=settings.secrets())
    db_breaker = CircuitBreaker(
        DATABASE_BREAKER,
        failure_threshold=settings.db.breaker_failures,
        reset_timeout=settings.db.breaker_reset_seconds,
        clock=monotonic,
    )
    telegram_breaker = CircuitBreaker(
        TELEGRAM_BREAKER,
        failure_threshold=settings.telegram.breaker_failures,
        reset_timeout=settings.telegram.breaker_reset_seconds,
        is_failure=telegram_unreachable,
        clock=monotonic,
    )
    metrics = Metrics()
    telegram_latency = LatencyTracker()
    engine = engine or create_engine(settings.database_url_value)
    guard_with_breaker(engine, db_breaker)
    sessionmaker = create_sessionmaker(engine)
    i18n = create_i18n(settings.default_locale)
    outbox = (
        None
        if bot is None
        else create_sender(
            settings,
            bot,
            sessionmaker,
            clock,
            monotonic,
            i18n,
            workflows,
            metrics,
            telegram_breaker,
            telegram_latency,
            sleep,
            masker=masker,
        )
    )
    wake_outbox = outbox.kick if outbox is not None else _nothing
    tx = TransactionalStateManager(sessionmaker, clock, masker, wake_outbox=wake_outbox)
    recorder = ErrorRecorder(
        sessionmaker,
        clock,
        masker,
        ErrorSpool(settings.error.spool_path, settings.error.spool_max_bytes),
        ErrorCorrelator(clock=monotonic),
        alert_window=timedelta(minutes=settings.error.alert_window_minutes),
        wake_outbox=wake_outbox,
        on_recorded=metrics.failure_recorded,
        occurrences_per_minute=settings.error.occurrences_per_minute,
    )
    healer = Healer(max_concurrent=settings.max_concurrent_recoveries, clock=monotonic)
    register_strategies(healer, engine, recorder, wake_outbox)
    stuck = StuckService(sessionmaker, tx, workflows, clock)
    reconciliation = ReconciliationService(
        sessionmaker,
        engine,
        tx,
        clock,
        pending_max_age=timedelta(hours=settings.reconciliation.pending_max_age_hours),
    )
    jobs = JobMonitor(clock, settings.job_misfire_grace_seconds)
    running = bot is not None
    health = HealthService(
        settings.health,
        sessionmaker,
        clock,
        stuck_count=stuck.count,
        telegram_breaker=telegram_breaker if running else None,
        telegram_latency=telegram_latency if running else None,
        jobs=jobs if running else None,
        in_flight=healer.in_flight if running else None,
        healing_capacity=settings.max_concurrent_recoveries,
        open_findings=reconciliation.open_count,
        tx=tx,
    )
    actions = RecoveryActions(
        sessionmaker,
        tx,
        workflows,
        clock,
        on_outcome=lambda a, o: metrics.recovery_actions.labels(a.value, o.value).inc(),
    )
    return App(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        workflows=workflows,
        i18n=i18n,
        clock=clock,
        masker=masker,
        db_breaker=db_breaker,
        telegram_breaker=telegram_breaker,
        tx=tx,
        users=UserService(
            sessionmaker,
            tx,
            clock,
            settings.admin_ids,
            cache_seconds=settings.user_cache_seconds,
            monotonic=monotonic,
        ),
        inventory=InventoryService(sessionmaker, tx, clock),
        requests=RequestService(sessionmaker, tx, workflows, clock, settings.max_quantity),
        outbox=outbox,
        recorder=recorder,
        healer=healer,
        user_cache=LastGoodCache(max_age=DEGRADED_USER_MAX_AGE, clock=monotonic),
        errors=ErrorService(sessionmaker, tx, clock),
        stuck=stuck,
        actions=actions,
        bulk=BulkRecovery(
            sessionmaker, tx, actions, clock, per_second=settings.bulk_actions_per_second
        ),
        recovery_log=RecoveryLogReader(sessionmaker),
        reconciliation=reconciliation,
        notifications=NotificationAdminService(sessionmaker, tx, clock, outbox),
        confirmations=ConfirmationService(
            sessionmaker, tx, clock, timedelta(minutes=settings.confirmation_minutes)
        ),
        metrics=metrics,
        jobs=jobs,
        telegram_latency=telegram_latency,
        health=health,
        throttle=Throttle(
            rate=settings.throttle.rate_per_second,
            burst=settings.throttle.burst,
            quiet_seconds=settings.throttle.quiet_seconds,
            max_keys=settings.throttle.max_people,
            clock=monotonic,
        ),
    )


def create_sender(
    settings: Settings,
    bot: Bot,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    monotonic: Callable[[], float],
    i18n: I18n,
    workflows: WorkflowRegistry,
    metrics: Metrics,
    telegram_breaker: CircuitBreaker,
    telegram_latency: LatencyTracker,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    *,
    masker: Masker | None = None,
) -> OutboxSender:
    def on_latency(method: str, seconds: float) -> None:
        telegram_latency.observe(seconds)
        metrics.telegram_latency.observe(seconds)

    # Outermost first: a reply's wait for a 429 is outside the breaker (a 429 is an answer).
    bot.session.middleware(ReplyRetryMiddleware(sleep))
    bot.session.middleware(BreakerRequestMiddleware(telegram_breaker, on_latency))
    return OutboxSender(
        bot,
        sessionmaker,
        Renderer(i18n, workflows, decision_keyboard),
        clock,
        policy=SenderPolicy(
            max_attempts=settings.outbox.max_attempts,
            backoff_base=settings.outbox.backoff_base_seconds,
            backoff_cap=settings.outbox.backoff_cap_seconds,
            claim_seconds=settings.outbox.claim_seconds,
        ),
        limiter=RateLimiter(
            settings.outbox.rate_per_second,
            settings.outbox.per_chat_per_second,
            margin=settings.outbox.rate_margin_seconds,
            key_margin=settings.outbox.per_chat_margin_seconds,
            clock=monotonic,
        ),
        on_outcome=lambda outcome: metrics.notifications.labels(outcome).inc(),
        masker=masker,
    )


def _nothing() -> None:
    """No sender in this process (the command line): the bot's sender polls for the rows."""


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
        recorder=app.recorder,
        errors=app.errors,
        stuck=app.stuck,
        actions=app.actions,
        bulk=app.bulk,
        recovery_log=app.recovery_log,
        reconciliation=app.reconciliation,
        notifications=app.notifications,
        confirmations=app.confirmations,
        health=app.health,
    )
    # Outermost first: a failure anywhere below, the database included, reaches ErrorMiddleware.
    # A flood is dropped right after it is counted, before any database work.
    dp.update.outer_middleware(UpdateMetricsMiddleware(app.metrics))
    dp.update.outer_middleware(
        ThrottleMiddleware(app.throttle, app.i18n, app.metrics, app.user_cache)
    )
    dp.update.outer_middleware(ErrorMiddleware(app.i18n, app.recorder, app.healer))
    dp.update.outer_middleware(UserMiddleware(app.users, app.user_cache))
    dp.update.outer_middleware(LocaleMiddleware(app.i18n))
    # Inner middlewares of the dispatcher run for the handlers of every router below it.
    for observer in (dp.message, dp.callback_query):
        observer.middleware(HandlerScopeMiddleware())
    dp.callback_query.middleware(ButtonAnswerMiddleware())  # every button press answered once
    dp.include_routers(*get_routers())
    return dp
