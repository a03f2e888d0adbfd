"""Words several staff sections say: the names of recovery actions (the recovery screens and
the recovery log), and the answers to a typed step that is no longer open or wants text."""

from __future__ import annotations

from core.enums import RecoveryAction
from core.i18n import N_

ACTION_NAMES = {
    RecoveryAction.NUDGE: N_("Nudge the assignee"),
    RecoveryAction.REASSIGN: N_("Reassign"),
    RecoveryAction.RESET: N_("Reset to the previous stage"),
    RecoveryAction.FORCE_TRANSITION: N_("Force to the next stage"),
    RecoveryAction.FORCE_COMPLETE: N_("Force complete"),
    RecoveryAction.ESCALATE: N_("Escalated to admins"),
}
STEP_CLOSED = N_("This step is no longer open. Start again from the menu.")
SEND_TEXT = N_("Please send text, or /cancel.")
