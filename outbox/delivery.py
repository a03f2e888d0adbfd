"""Sending one notification: the Bot API call, and what Telegram's answer means for the row
(outcomes.py holds the values each outcome writes)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter

from core.context import HANDLING_UPDATE
from core.enums import DeadReason, NotificationStatus
from database.models import PendingNotification
from outbox import outcomes
from outbox.outcomes import Change, SenderPolicy, classify_permanent
from outbox.render import Renderer
from utils.circuit_breaker import CircuitOpenError
from utils.masking import Masker
from utils.rate_limit import RateLimiter

logger = logging.getLogger("outbox.sender")  # the sender's log, as before this moved here


async def deliver(
    bot: Bot,
    row: PendingNotification,
    renderer: Renderer,
    limiter: RateLimiter,
    masker: Masker,
    policy: SenderPolicy,
    random: Callable[[], float],
    now: Callable[[], datetime],
) -> Change | None:
    """Send one row and decide what to write; None: the breaker is open, nothing was sent.

    A 429 also pauses the limiter, before anything else can start."""
    try:
        text, markup = renderer.render(row)
    except Exception as exc:  # a rendering bug must not block the rest of the queue
        logger.exception("notification %s could not be rendered", row.id)
        error = outcomes.describe(exc, masker)
        return outcomes.dead(row, error, DeadReason.RENDER_FAILED, now(), count=False)
    replying = HANDLING_UPDATE.set(False)  # the sender's 429 policy, not a reply's retry
    try:
        await bot.send_message(chat_id=row.recipient.telegram_id, text=text, reply_markup=markup)
    except CircuitOpenError:
        return None
    except TelegramRetryAfter as exc:
        limiter.pause(float(exc.retry_after))
        return outcomes.wait(row, outcomes.describe(exc, masker), float(exc.retry_after), now())
    except Exception as exc:
        error = outcomes.describe(exc, masker)
        reason = classify_permanent(exc)
        logger.warning("notification %s not delivered: %s", row.id, error)
        if reason is not None:
            return outcomes.dead(row, error, reason, now(), count=True)
        change = outcomes.failed(row, error, now(), policy, random)
        if change.outcome is not None and change.outcome.status is NotificationStatus.DEAD:
            logger.warning("notification %s is dead after %s attempts", row.id, row.attempts)
        return change
    finally:
        HANDLING_UPDATE.reset(replying)
    return outcomes.sent(row, now())
