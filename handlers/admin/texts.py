"""Words several staff sections say: the names of recovery actions (the recovery screens and
the recovery log), and the answers to a typed step that is no longer open or wants text."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from core.enums import RecoveryAction
from core.i18n import N_
from services.recovery.spec import spec

STEP_CLOSED = N_("This step is no longer open. Start again from the menu.")
SEND_TEXT = N_("Please send text, or /cancel.")


def action_name(action: RecoveryAction) -> str:
    """The action's label from its row in the recovery table, in the admin's language."""
    return str(_(spec(action).label))
