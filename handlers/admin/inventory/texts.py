"""Reconciliation reports in the current locale: the admin screens and the command line print
the same words (the alert to admins is rendered by the outbox, with the same kind names)."""

from __future__ import annotations

from collections import Counter
from html import escape

from aiogram.utils.i18n import gettext as _

from core.enums import DiscrepancyKind, ReconciliationAction
from core.fitting import MESSAGE_LIMIT, fit_lines, size
from core.i18n import N_
from core.names import kind_name
from database.models import ReconciliationLog, ReconciliationRun
from services.reconciliation.findings import Finding, Report

ACTION_NAMES = {
    ReconciliationAction.RECOMPUTE_STOCK: N_("recompute the stock figure"),
    ReconciliationAction.REVERSE_MOVEMENT: N_("reverse the movement"),
    ReconciliationAction.LEAVE_FOR_ADMIN: N_("needs an admin"),
    ReconciliationAction.POST_ADJUSTMENT: N_("adjustment posted"),
}

MAX_LINES = 20  # findings listed at most; the rest are counted


def finding_line(f: Finding) -> str:
    values = ""
    if f.expected is not None or f.actual is not None:
        values = " " + _("(expected {expected}, actual {actual})").format(
            expected=_none(f.expected), actual=_none(f.actual)
        )
    movement = ""
    if f.transaction_id is not None:
        movement = " " + _("movement #{id}").format(id=f.transaction_id)
    new = "" if f.is_new or not f.needs_admin else " " + _("[already open]")
    return (
        f"• {escape(f.sku)}: {kind_name(f.kind)}{movement}{values} → "
        f"{_(ACTION_NAMES[f.action])}{new}"
    )


def report_text(report: Report) -> str:
    if report.applied:
        head = _("Reconciliation run #{run_id} applied.").format(run_id=report.run_id)
    else:
        head = _("Preview (dry run): nothing was changed.")
    if not report.findings:
        lines = [head, _("No discrepancies found.")]
        if report.resolved:
            lines.append(_("Findings no longer present: {count}.").format(count=report.resolved))
        return "\n".join(lines)
    lines = [head, "", _("Found by kind:")]
    lines += [f"• {kind_name(k)}: {n}" for k, n in _in_order(report.by_kind())]
    lines.append("")
    if report.applied:
        lines.append(
            _("Fixed: {fixed}. Left for an admin: {admin} ({new} new).").format(
                fixed=report.fixes, admin=report.needs_admin, new=report.new_for_admin
            )
        )
    else:
        lines.append(
            _("Applying would fix {fixed} and leave {admin} for an admin ({new} new).").format(
                fixed=report.fixes, admin=report.needs_admin, new=report.new_for_admin
            )
        )
    if report.resolved:
        lines.append(_("Findings no longer present: {count}.").format(count=report.resolved))
    lines.append("")
    details = [finding_line(f) for f in report.findings[:MAX_LINES]]
    hidden = len(report.findings) - len(details)
    head_text = "\n".join(lines)
    budget = MESSAGE_LIMIT - size(head_text) - 1
    return "\n".join([head_text, *fit_lines(details, budget, hidden=hidden)])


def plan_counts(report: Report) -> str:
    """What Apply will do, in numbers, for the confirmation question."""
    actions = report.by_action()
    return _(
        "Apply will recompute {recompute} stock figure(s), reverse {reverse} movement(s) "
        "and leave {admin} finding(s) for an admin. Apply now?"
    ).format(
        recompute=actions[ReconciliationAction.RECOMPUTE_STOCK],
        reverse=actions[ReconciliationAction.REVERSE_MOVEMENT],
        admin=actions[ReconciliationAction.LEAVE_FOR_ADMIN],
    )


def changed_text(report: Report) -> str:
    """A confirmed preview that no longer held entirely: what was left out, and why."""
    return _(
        "⚠️ The findings changed since the preview: {vanished} of those shown are gone and "
        "were skipped, {unseen} not shown were left alone. Only what the preview showed was "
        "applied; make a fresh preview to see the rest."
    ).format(vanished=report.vanished, unseen=report.unseen)


def run_line(run: ReconciliationRun) -> str:
    return _(
        "#{run_id} {when} UTC ({trigger}): {findings} found, {fixed} fixed, {admin} for an admin"
    ).format(
        run_id=run.id,
        when=run.started_at.strftime("%Y-%m-%d %H:%M"),
        trigger=escape(run.trigger),
        findings=run.findings,
        fixed=run.fixed,
        admin=run.needs_admin,
    )


def last_run_text(last: tuple[ReconciliationRun, Counter[DiscrepancyKind]] | None) -> str:
    if last is None:
        return _("No reconciliation has been applied yet.")
    run, kinds = last
    lines = [_("Last run:") + " " + run_line(run)]
    lines += [f"• {kind_name(k)}: {n}" for k, n in _in_order(kinds)]
    return "\n".join(lines)


def open_finding_line(row: ReconciliationLog, sku: str) -> str:
    values = _("(expected {expected}, actual {actual})").format(
        expected=_none(row.expected), actual=_none(row.actual)
    )
    movement = ""
    if row.transaction_id is not None:
        movement = " " + _("movement #{id}").format(id=row.transaction_id)
    return f"• {escape(sku)}: {kind_name(row.kind)}{movement} {values}"


def _none(value: object) -> str:
    return "—" if value is None else str(value)


def _in_order(counts: Counter[DiscrepancyKind]) -> list[tuple[DiscrepancyKind, int]]:
    order = list(DiscrepancyKind)
    return sorted(counts.items(), key=lambda kv: order.index(kv[0]))
