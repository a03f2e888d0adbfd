"""The bot's self-healing strategies, registered on the healer."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.enums import ErrorCategory
from services.failures.recorder import ErrorRecorder
from utils.healing import FunctionStrategy, Healer, HealingContext


def register_strategies(
    healer: Healer,
    engine: AsyncEngine,
    recorder: ErrorRecorder,
    kick_outbox: Callable[[], None],
) -> None:
    async def database_back(context: HealingContext) -> str:
        # Probe first: writing the spool back is pointless while the database is still away.
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        written = await recorder.flush_spool()
        return f"database reachable; wrote {written} spooled error records"

    async def resend_notifications(context: HealingContext) -> str:
        kick_outbox()
        await recorder.count_retry(context.fingerprint)
        return "outbox sender woken to retry due notifications"

    healer.register(
        FunctionStrategy(
            name="flush_error_spool",
            action=database_back,
            priority=90,
            timeout=30.0,
            predicate=lambda context: bool(context.details.get("database_down")),
        ),
        categories=[ErrorCategory.SYSTEM.value, ErrorCategory.TRANSIENT.value],
    )
    healer.register(
        FunctionStrategy(
            name="retry_notifications", action=resend_notifications, priority=50, timeout=10.0
        ),
        categories=[ErrorCategory.NOTIFICATION.value],
    )
