"""`python -m bot health`: the health roll-up from outside the bot, with an exit code."""

from __future__ import annotations

import argparse

from bot.factory import App

HEALTH_EXIT_CODES = {"healthy": 0, "degraded": 1, "unhealthy": 2}


async def health_command(args: argparse.Namespace, app: App) -> int:
    """The same roll-up as the bot's System health screen, from outside the bot: what only
    the running bot knows (Telegram latency, its jobs, recoveries in flight) reads "unknown"."""
    from handlers.admin.health.texts import report_lines

    report = await app.health.check()
    locale = app.settings.default_locale
    with app.i18n.context(), app.i18n.use_locale(locale):
        print("\n".join(report_lines(report)))
    return HEALTH_EXIT_CODES[report.status.value]
