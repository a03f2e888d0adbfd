"""Rendering outbox rows into messages, in the recipient's language at send time.

Each kind's payload type and renderer are paired in `renderers.RENDERERS`. A row of a kind this
version does not know raises `UnknownNotification`, one whose payload does not fit its kind
`MalformedPayload`: the sender records either as a rendering failure.

The Approve / Reject buttons belong to the screen that handles them (handlers/): the composition
root hands their builder in, so the outbox never imports a screen.

Every rendered text fits Telegram: a renderer fits its lists, and what a long reason or name
still makes too long is cut here (`core.fitting.cut_html`, never inside a tag or an entity),
so no notification goes dead as "message is too long"."""

from __future__ import annotations

from aiogram.utils.i18n import I18n

from core.fitting import cut_html
from core.i18n import pick_locale
from core.workflows import WorkflowRegistry
from database.models import PendingNotification
from outbox.payloads import NotificationKind
from outbox.renderers import RENDERERS, Context, DecisionButtons, Rendered

__all__ = ["DecisionButtons", "Renderer", "UnknownNotification"]


class UnknownNotification(Exception):
    """An outbox row of a kind this version cannot render."""


class Renderer:
    def __init__(
        self, i18n: I18n, workflows: WorkflowRegistry, decision_buttons: DecisionButtons
    ) -> None:
        self.i18n = i18n
        self.workflows = workflows
        self.decision_buttons = decision_buttons

    def render(self, row: PendingNotification) -> Rendered:
        try:
            entry = RENDERERS[NotificationKind(row.kind)]
        except ValueError:
            raise UnknownNotification(row.kind) from None
        user = row.recipient
        locale = pick_locale(user.language, user.telegram_language, self.i18n.default_locale)
        context = Context(self.workflows, locale, self.decision_buttons)
        with self.i18n.context(), self.i18n.use_locale(locale):
            text, markup = entry(row.payload, context)
            return cut_html(text), markup
