"""The report as an operator reads it."""

from __future__ import annotations

from simulators.chaos.model import Report


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"


def render(report: Report) -> str:
    summary = report.summary()
    lines = [
        f"chaos run: seed {report.seed}, {report.engine}, {report.hours:g} h, "
        f"{report.requests} requests, {summary['incidents']} incidents",
        "",
        f"{'kind':<26}{'n':>3}{'fixed':>7}{'menu':>6}{'median':>9}{'worst':>9}  mechanism",
    ]
    for kind, row in report.by_kind().items():
        counted = row["incidents"] - row["no_effect"]
        fixed = "person" if row["needs_person"] else f"{row['recovered']}/{counted}"
        menu = f"{row['on_menu_with_fix']}/{counted}" if row["needs_person"] else ""
        if not counted:
            fixed, menu = "-", ""  # no effect: listed below
        lines.append(
            f"{kind:<26}{row['incidents']:>3}{fixed:>7}{menu:>6}"
            f"{_s(row['median_seconds']):>9}{_s(row['worst_seconds']):>9}  {row['mechanism']}"
        )
    lost, fp = report.data_lost, report.false_positives
    lines += [
        "",
        f"machine-fixable incidents fixed with no person: {summary['fixed_with_no_person']}"
        f"/{summary['machine_fixable']} ({summary['fixed_share']:.1%}); worst automatic "
        f"recovery {_s(summary['worst_automatic_recovery_seconds'])} (target 120 s)",
        f"needing a person: {summary['need_a_person']}, on /workflow_recovery with the fix "
        f"button: {summary['on_menu_with_fix']}",
        f"data lost: {lost.total} (updates not answered {lost.updates_not_answered}, error "
        f"records missing {lost.error_records_missing}, notifications neither delivered nor "
        f"dead with a reason {lost.notifications_lost}, marked sent but never at the API "
        f"{lost.notifications_sent_unseen}, ledger rows lost {lost.ledger_rows_lost})",
        f"false positives: {fp.total} (stuck marks {fp.stuck_marks}, findings {fp.findings}, "
        f"'blocked' for someone who had not {fp.dead_blocked}); duplicates sent: "
        f"{report.duplicates_sent} (besides {report.reasked_after_redelivery} replies asked "
        "again for an update Telegram delivered again after a kill)",
        "the day: " + ", ".join(f"{k} {v}" for k, v in report.day.items()),
    ]
    idle = [i for i in report.incidents if not i.effect]
    if idle:
        lines += ["", "no effect (not counted):"]
        lines += [f"  #{i.id} {i.kind} at {i.injected_at:.0f} s: {i.detail}" for i in idle]
    missed = [i for i in report.incidents if i.missed_by]
    if missed:
        lines += ["", "targets missed:"]
        lines += [f"  #{i.id} {i.kind} at {i.injected_at:.0f} s: {i.missed_by}" for i in missed]
    lines += ["", "left out of this run:"]
    lines += [f"  {kind}: {why}" for kind, why in report.left_out.items()]
    return "\n".join(lines)
