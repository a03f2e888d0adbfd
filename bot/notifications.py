"""Rendering outbox rows into messages, in the recipient's language at send time."""

from __future__ import annotations

from html import escape

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.i18n import pick_locale
from bot.keyboards import decision_keyboard
from bot.reconciliation_texts import reconciliation_alert
from bot.texts import category_name, item_lines, stage_title
from bot.workflows import WorkflowRegistry
from database.models import PendingNotification


class UnknownNotification(Exception):
    """An outbox row of a kind this version cannot render."""


class Renderer:
    def __init__(self, i18n: I18n, workflows: WorkflowRegistry) -> None:
        self.i18n = i18n
        self.workflows = workflows

    def render(self, row: PendingNotification) -> tuple[str, InlineKeyboardMarkup | None]:
        user = row.recipient
        locale = pick_locale(user.language, user.telegram_language, self.i18n.default_locale)
        with self.i18n.context(), self.i18n.use_locale(locale):
            return self._render(row.kind, row.payload, locale)

    def _render(
        self, kind: str, p: dict[str, object], locale: str
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        if kind == "error_alert":
            return self._error_alert(p), None
        if kind == "reconciliation_alert":
            return reconciliation_alert(p), None
        request_id = int(str(p["request_id"]))
        if kind == "approval_needed":
            stage = stage_title(self.workflows, str(p["workflow"]), str(p["stage"]), locale)
            text = _(
                "Request #{request_id} from {requester} waits for your decision ({stage}):"
            ).format(request_id=request_id, requester=escape(str(p["requester"])), stage=stage)
            items = p["items"]
            assert isinstance(items, list)
            return f"{text}\n{item_lines(items)}", decision_keyboard(
                request_id, int(str(p["version"]))
            )
        if kind == "request_advanced":
            stage = stage_title(self.workflows, str(p["workflow"]), str(p["stage"]), locale)
            assignee = p.get("assignee")
            if assignee:
                text = _("Request #{request_id} was approved and moved to {stage} ({assignee}).")
            else:
                text = _(
                    "Request #{request_id} was approved and moved to {stage}. Nobody holds "
                    "that role yet; an admin has to assign someone."
                )
            return text.format(
                request_id=request_id, stage=stage, assignee=escape(str(assignee))
            ), None
        if kind == "request_completed":
            if p.get("issued"):
                text = _("Request #{request_id} is completed: the items were issued to you.")
            else:
                text = _("Request #{request_id} is completed.")
            return text.format(request_id=request_id), None
        if kind == "request_rejected":
            return _("Request #{request_id} was rejected by {by}. Reason: {reason}").format(
                request_id=request_id, by=escape(str(p["by"])), reason=escape(str(p["reason"]))
            ), None
        raise UnknownNotification(kind)

    @staticmethod
    def _error_alert(p: dict[str, object]) -> str:
        return _(
            "⚠️ Critical problem {reference}: {category}, {exception} in {where}. "
            "Seen {count} time(s) so far. Repeats will only raise the count."
        ).format(
            reference=escape(str(p["reference"])),
            category=category_name(str(p["category"])),
            exception=escape(str(p["exception"])),
            where=escape(str(p["where"])),
            count=p["count"],
        )
