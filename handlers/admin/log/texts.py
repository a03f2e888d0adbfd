"""Text pieces of the recovery log. A row quotes the reason clipped and is cut to its share of
a page (core/fitting.py)."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _

from core.enums import RecoveryOutcome
from core.fitting import PERSON_LIMIT, ROW_LIMIT, clip, cut_html
from core.i18n import N_
from database.models import WorkflowRecoveryLog
from handlers.admin.texts import action_name

OUTCOME_NAMES = {
    RecoveryOutcome.APPLIED: N_("applied"),
    RecoveryOutcome.STALE: N_("not applied: changed meanwhile"),
    RecoveryOutcome.REFUSED: N_("refused"),
    RecoveryOutcome.FAILED: N_("failed"),
}


def log_line(row: WorkflowRecoveryLog) -> str:
    line = _("{at} · #{request_id} · {action} by {actor}: {outcome}\n   {reason}").format(
        at=row.created_at.strftime("%Y-%m-%d %H:%M"),
        request_id=row.request_id,
        action=action_name(row.action),
        actor=escape(clip(row.actor.display_name, PERSON_LIMIT)) if row.actor else _("system"),
        outcome=_(OUTCOME_NAMES[row.outcome]),
        reason=escape(row.reason),
    )
    return cut_html(line, ROW_LIMIT)  # the reason, last, is what a cut shortens
