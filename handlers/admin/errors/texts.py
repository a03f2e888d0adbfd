"""Text pieces of the error screens: one record described, the resolution notes offered. The
description leaves room for the line a screen puts above it (core/fitting.py)."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _

from core.fitting import MESSAGE_LIMIT, cut_html
from core.i18n import N_
from core.names import category_name, severity_name
from database.models import ErrorRecord

NOTE_PRESETS = (
    N_("Fixed"),
    N_("Expected behaviour"),
    N_("Could not reproduce"),
)
ABOVE = 300  # "✅ Resolved." or the recurrence warning, put above a description


def describe(record: ErrorRecord) -> str:
    lines = [
        _("Error {reference}: {category}, severity {severity}").format(
            reference=record.reference,
            category=category_name(record.category),
            severity=severity_name(record.severity),
        ),
        _("Where: {where}").format(where=escape(record.handler or "?")),
        _("What: {exception}: {message}").format(
            exception=escape(record.exception_type.rsplit(".", 1)[-1]),
            message=escape(record.message[:500]),
        ),
        _("Seen {count} time(s), first {first}, last {last} (UTC)").format(
            count=record.count,
            first=record.first_seen.strftime("%Y-%m-%d %H:%M"),
            last=record.last_seen.strftime("%Y-%m-%d %H:%M"),
        ),
    ]
    if record.resolved_at is not None:
        lines.append(
            _("Resolved {when}: {note}").format(
                when=record.resolved_at.strftime("%Y-%m-%d %H:%M"),
                note=escape(record.resolution_note or ""),
            )
        )
    else:
        lines.append(_("Open."))
    return cut_html("\n".join(lines), MESSAGE_LIMIT - ABOVE)
