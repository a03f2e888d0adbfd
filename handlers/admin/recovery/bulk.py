"""/workflow_recovery: a bulk action over the stuck requests shown, and its job."""

from __future__ import annotations

import secrets

from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.exceptions import PermissionDenied, ValidationFailed
from core.i18n import N_
from core.workflows import WorkflowRegistry
from database.models import User
from handlers.admin.callbacks import BulkAction, JobView, ReasonPreset, RecoveryLogView, StuckList
from handlers.admin.confirm import Applier, Confirmed, Result, outcome
from handlers.admin.recovery.pending import PendingBulk
from handlers.admin.recovery.screens import decode_filter, filter_title
from handlers.admin.recovery.texts import REASON_PRESETS
from handlers.admin.screens import back_row, menu_ref
from handlers.admin.states import Recovery
from handlers.admin.texts import action_name
from handlers.edits import safe_edit_text
from handlers.routes import RouteTable
from services.confirmation_scopes import RecoveryBulkScope
from services.recovery.actions import RecoveryActions
from services.recovery.bulk import BulkRecovery
from services.recovery.spec import bulk_actions, may_run
from services.stuck import StuckService

routes = RouteTable(__name__)
STARTED = N_("Bulk job #{job_id} was started for {count} requests.")

# -- bulk --------------------------------------------------------------------------------------


@routes.callback_query(BulkAction.filter())
async def bulk_preview(
    query: CallbackQuery,
    callback_data: BulkAction,
    user: User,
    stuck: StuckService,
    actions: RecoveryActions,
    workflows: WorkflowRegistry,
    locale: str,
    state: FSMContext,
) -> None:
    selected = decode_filter(workflows, callback_data.wf, callback_data.st)
    action = callback_data.action
    if action not in bulk_actions():
        raise ValidationFailed(N_("This action cannot run in bulk."))
    if not may_run(user.role_set, action):
        raise PermissionDenied(N_("Your role may not run this action."))
    entries = await stuck.all(selected)
    targets = tuple(
        (e.request.id, e.request.version)
        for e in entries
        if action in actions.available(e.request)
    )
    builder = InlineKeyboardBuilder()
    for other in bulk_actions():
        if other is not action and may_run(user.role_set, other):
            builder.button(
                text=action_name(other),
                callback_data=BulkAction(action=other, wf=callback_data.wf, st=callback_data.st),
            )
    where = filter_title(workflows, callback_data.wf, callback_data.st, locale)
    text = _(
        "Bulk: {action} in {where}. {count} of the {total} stuck requests shown can take it."
    ).format(action=action_name(action), where=where, count=len(targets), total=len(entries))
    if targets:
        nonce = secrets.randbelow(10**9)
        await state.update_data(
            pending=PendingBulk(action, targets, nonce).to_data(), menu=menu_ref(query.message)
        )
        await state.set_state(Recovery.reason)
        for index, preset in enumerate(REASON_PRESETS):
            builder.button(text=_(preset), callback_data=ReasonPreset(nonce=nonce, preset=index))
        text += "\n\n" + _("Why? Choose a reason or type your own.")
    back_row(builder, StuckList(page=0, wf=callback_data.wf, st=callback_data.st).pack())
    builder.adjust(1)
    await safe_edit_text(query.message, text, reply_markup=builder.as_markup())


async def run_bulk(done: Confirmed[RecoveryBulkScope]) -> Result:
    """A job over exactly the (request, version) pairs the confirmation listed."""
    scope = done.scope
    bulk = done.service("bulk", BulkRecovery)
    await done.state.update_data(pending=None)
    job = await bulk.start(done.user, scope.action, scope.reason, scope.targets)
    text, markup = job_screen(job.id, job.status.value, job.total, 0, 0, 0)
    stored = outcome(STARTED, job_id=job.id, count=job.total)
    return Result(text, markup, stored, answer=_("Started."))


APPLIERS = (Applier(RecoveryBulkScope, run_bulk),)


def job_screen(
    job_id: int, status: str, total: int, applied: int, skipped: int, failed: int
) -> tuple[str, InlineKeyboardMarkup]:
    status_text = _("running") if status == "running" else _("finished")
    text = _(
        "Bulk job #{job_id}: {status}. {applied} applied, {skipped} skipped (changed "
        "meanwhile or no longer applicable), {failed} failed, of {total}."
    ).format(
        job_id=job_id,
        status=status_text,
        applied=applied,
        skipped=skipped,
        failed=failed,
        total=total,
    )
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Refresh"), callback_data=JobView(job_id=job_id))
    builder.button(
        text=_("Recovery log"), callback_data=RecoveryLogView(page=0, actor=0, request=0)
    )
    back_row(builder)
    builder.adjust(1)
    return text, builder.as_markup()


@routes.callback_query(JobView.filter())
async def job_view(query: CallbackQuery, callback_data: JobView, bulk: BulkRecovery) -> None:
    job = await bulk.job(callback_data.job_id)
    if job is None:
        raise ValidationFailed(N_("That job does not exist."))
    text, markup = job_screen(
        job.id, job.status.value, job.total, job.applied, job.skipped, job.failed
    )
    await safe_edit_text(query.message, text, reply_markup=markup)
