"""System health: the screen in /workflow_recovery (admins and support) and /health (admins)."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiogram import F
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.enums import HealthStatus
from handlers.admin.access import ADMINS
from handlers.admin.callbacks import MenuSection, RecoveryMenu
from handlers.admin.health.texts import STATUS_ICONS, component_line, rollup_line
from handlers.admin.screens import back_row
from handlers.edits import safe_edit_text
from handlers.routes import RouteTable
from services.health.model import worst
from services.health.service import TREND_WINDOW, HealthService, TrendPoint

routes = RouteTable(__name__)  # inside the staff router; /health is for admins only

TREND_BUCKET = timedelta(hours=1)


def trend_strip(points: list[TrendPoint], now: datetime) -> str:
    """One icon per hour, oldest first: the worst status seen that hour (⚪ = no snapshot)."""
    buckets = int(TREND_WINDOW / TREND_BUCKET)
    start = now - TREND_WINDOW
    seen: list[list[HealthStatus]] = [[] for _ in range(buckets)]
    for point in points:
        index = min(buckets - 1, max(0, int((point.taken_at - start) / TREND_BUCKET)))
        seen[index].append(point.status)
    return "".join(
        STATUS_ICONS[worst(*s)] if s else STATUS_ICONS[HealthStatus.UNKNOWN] for s in seen
    )


def trend_lines(points: list[TrendPoint], now: datetime) -> list[str]:
    if not points:
        return [_("Last 24 hours: no snapshots yet (one is taken every few minutes).")]
    counts = {status: sum(p.status is status for p in points) for status in HealthStatus}
    lines = [
        _("Last 24 hours, one mark per hour, oldest first:"),
        trend_strip(points, now),
        _(
            "{count} snapshots: {healthy} healthy, {degraded} degraded, {unhealthy} unhealthy."
        ).format(
            count=len(points),
            healthy=counts[HealthStatus.HEALTHY],
            degraded=counts[HealthStatus.DEGRADED],
            unhealthy=counts[HealthStatus.UNHEALTHY],
        ),
        _("Peaks: {errors} errors in an hour, {queue} notifications waiting.").format(
            errors=int(max((p.errors or 0) for p in points)),
            queue=int(max((p.queue or 0) for p in points)),
        ),
    ]
    return lines


async def health_screen(health: HealthService) -> tuple[str, InlineKeyboardMarkup]:
    report = await health.check()
    points = await health.trend()
    lines = [
        rollup_line(report),
        "",
        *(component_line(c) for c in report.components),
        "",
        *trend_lines(points, report.taken_at),
    ]
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Refresh"), callback_data=RecoveryMenu(section=MenuSection.HEALTH))
    back_row(builder)
    builder.adjust(2)
    return "\n".join(lines), builder.as_markup()


@routes.callback_query(RecoveryMenu.filter(F.section == MenuSection.HEALTH))
async def health_entry(query: CallbackQuery, health: HealthService) -> None:
    """The main menu's System health (admins and support)."""
    text, markup = await health_screen(health)
    await safe_edit_text(query.message, text, reply_markup=markup)


@routes.message(Command("health"), ADMINS)
async def health_command(message: Message, health: HealthService) -> None:
    report = await health.check()
    await message.answer(rollup_line(report))
