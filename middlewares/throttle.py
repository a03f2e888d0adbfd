"""Per-person flood control, outside everything that touches the database.

One person's updates pass while they keep to THROTTLE_BURST at once and THROTTLE_RATE_PER_SECOND
after that (utils/throttle.py). The first update over the limit is answered once, politely, in
the person's language; then every update of theirs is dropped for THROTTLE_QUIET_SECONDS. A
dropped update runs no handler and no query: it is only counted (`bot_throttled_updates_total`).

A pressed button keeps spinning until it is answered, so every dropped press is answered (the
first with the notice as an alert, the others with nothing): one Bot API call, no database,
never more calls than the presses Telegram delivered. A dropped message gets no reply.

The language is the person's saved choice when the user middleware's last good copy of them is
at hand (memory, no query), else their Telegram language. The notice is not a reply to a
handled update, so it does not wait out a 429: it is sent once or not at all.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TgUser
from aiogram.utils.i18n import I18n, ngettext

from core.fitting import alert
from core.i18n import pick_locale
from database.models import User
from services.health.metrics import Metrics
from utils.circuit_breaker import CircuitOpenError
from utils.degradation import LastGoodCache
from utils.throttle import Throttle, Verdict

logger = logging.getLogger(__name__)


class ThrottleMiddleware(BaseMiddleware):
    def __init__(
        self,
        throttle: Throttle[int],
        i18n: I18n,
        metrics: Metrics,
        known: LastGoodCache[int, User] | None = None,
    ) -> None:
        self.throttle = throttle
        self.i18n = i18n
        self.metrics = metrics
        self.known = known  # the user middleware's copies: a saved language without a query

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        person: TgUser | None = data.get("event_from_user")
        if person is None or person.is_bot or not isinstance(event, Update):
            return await handler(event, data)
        verdict = self.throttle.check(person.id)
        if verdict is Verdict.PASS:
            return await handler(event, data)
        self.metrics.throttled.labels(event.event_type).inc()
        if verdict is Verdict.NOTICE:
            self.metrics.throttle_notices.inc()
            logger.info("throttling user %s for %ss", person.id, self.throttle.quiet_seconds)
        await self._answer(event, data["bot"], person, notice=verdict is Verdict.NOTICE)
        return None

    async def _answer(self, event: Update, bot: Bot, person: TgUser, *, notice: bool) -> None:
        query, message = event.callback_query, event.message
        if query is None and (message is None or not notice):
            return
        text = self._notice(person) if notice else None
        try:
            if query is not None:
                # Stops the button's spinner; the first one says why, as an alert.
                await query.answer(alert(text) if text else None, show_alert=notice)
            elif message is not None and text:
                await bot.send_message(message.chat.id, text)
        except (TelegramAPIError, CircuitOpenError) as exc:
            logger.info("could not answer a throttled update of %s: %s", person.id, exc)

    def _notice(self, person: TgUser) -> str:
        cached = self.known.get(person.id) if self.known is not None else None
        locale = pick_locale(
            cached.value.language if cached else None,
            person.language_code,
            self.i18n.default_locale,
        )
        seconds = max(1, math.ceil(self.throttle.quiet_seconds))
        with self.i18n.context(), self.i18n.use_locale(locale):
            return ngettext(
                "You are sending a lot at once. I will not answer for {seconds} second; "
                "then please try again.",
                "You are sending a lot at once. I will not answer for {seconds} seconds; "
                "then please try again.",
                seconds,
            ).format(seconds=seconds)
