"""After the day: what needs a person and whether the menu shows it, and the ledger of loss."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from bot.chaos import audit
from bot.chaos.inject import CORRUPTED_SKU, REMOVED, at_stage, holding
from bot.chaos.menu import finding_has, stuck_request_has
from bot.chaos.model import Incident

if TYPE_CHECKING:
    from bot.chaos.run import Run

TARGET_SECONDS = 120.0
MENU_CHECKS = 3  # requests of one incident looked up on the menu
WORKFLOW = ("wf_silent_assignee", "wf_deactivated_assignee", "wf_role_revoked", "wf_stage_removed")


async def finish(run: Run) -> None:
    report, db, sim = run.report, run.db, run.sim

    async def tick() -> None:
        await run.tick(1.0)

    stuck_ok: set[int] = set()
    findings_ok: set[int] = set()
    for incident in report.incidents:
        if incident.kind.startswith("inv_"):
            findings_ok.update(incident.affected)
        if incident.kind in WORKFLOW:
            stuck_ok.update(incident.affected[1:])  # what they held when it happened
            requests = await held_by(run, incident)
            stuck_ok.update(requests)
            at_once = incident.kind in ("wf_role_revoked", "wf_stage_removed")
            fix = "Force complete" if incident.kind == "wf_stage_removed" else "Reassign"
            requests = await overdue(run, requests, at_once)
            if requests:
                await stuck_visible(run, incident, requests, tick, fix)
            else:
                incident.effect = False
                await absorbed(run, incident)
        elif incident.kind == "inv_negative_stock":
            item = incident.affected[0]
            incident.effect = True
            rows = await db.rows(
                "SELECT MIN(created_at) FROM inventory_reconciliation_log WHERE item_id = :i",
                i=item,
            )
            if rows and rows[0][0] is not None:
                incident.visible_at = (audit.when(rows[0][0]) - sim.start).total_seconds()
            incident.menu_fix = await finding_has(run.people, tick, CORRUPTED_SKU[incident.kind])
        elif incident.kind == "tg_blocked":
            incident.effect = bool(await audit.notifications_to(db, incident.affected[0]))
        name(incident)
    blocked = {i.affected[0] for i in report.incidents if i.kind == "tg_blocked"}
    report.data_lost = await audit.data_lost(db, run.people, run.api)
    report.false_positives = await audit.false_positives(
        db,
        stuck_ok=stuck_ok,
        findings_ok=findings_ok,
        blocked=blocked,
        threshold_seconds=run.stuck_seconds,
    )
    report.duplicates_sent, report.reasked_after_redelivery = audit.duplicates(run.api)
    statuses = await db.rows("SELECT status, COUNT(*) FROM requests GROUP BY status")
    report.day = {
        "updates_sent_by_people": len(run.people.sent),
        "conversations_finished": sum(c.done for c in run.people.conversations),
        "conversations_abandoned": sum(c.gave_up for c in run.people.conversations),
        "restarts": run.world.boots - 1,
        **{f"requests_{s}": int(n) for s, n in statuses},
    }


async def held_by(run: Run, incident: Incident) -> list[int]:
    """Open requests the silent or deactivated person holds at the end of the day (a removed
    stage: the open requests left at it)."""
    if incident.kind == "wf_stage_removed":
        return await at_stage(run.world, REMOVED)
    held = await holding(run.world, incident.affected[0])
    if not any(i.kind == "wf_stage_removed" for i in run.report.incidents):
        return held
    # Those left at the stage cut from the file are wf_stage_removed's (Force complete).
    stranded = set(await at_stage(run.world, REMOVED))
    return [r for r in held if r not in stranded]


async def overdue(run: Run, requests: list[int], at_once: bool = False) -> list[int]:
    """Those a stuck check must have marked by now: waiting past the threshold for longer
    than the check's interval (STUCK_CHECK_MINUTES); a deactivated assignee's, or one who
    lost the stage's role (`at_once`), at once."""
    if not requests:
        return []
    rows = await run.db.rows(
        "SELECT r.id, r.stage_entered_at, u.is_active FROM requests r JOIN users u "
        "ON u.id = r.assignee_id WHERE r.id IN (" + ",".join(map(str, requests)) + ")"
    )
    check = run.world.settings.stuck_check_minutes * 60
    now = run.sim.now()
    late = run.stuck_seconds + check
    return [
        int(r)
        for r, entered, active in rows
        if at_once or not active or (now - audit.when(entered)).total_seconds() > late
    ]


async def stuck_visible(
    run: Run, incident: Incident, requests: list[int], tick: object, fix: str
) -> None:
    marks = await run.db.rows(
        "SELECT request_id, detected_at FROM stuck_marks WHERE request_id IN ("
        + ",".join(str(r) for r in requests)
        + ")"
    )
    marked = {int(r): audit.when(at) for r, at in marks}
    if marked:
        # A mark from before the incident (overdue already) counts from the incident on.
        first = (min(marked.values()) - run.sim.start).total_seconds()
        incident.visible_at = max(first, incident.injected_at)
    unmarked = [r for r in requests if r not in marked]
    shown = [
        await stuck_request_has(run.people, tick, r, fix)  # type: ignore[arg-type]
        for r in requests[:MENU_CHECKS]
    ]
    incident.menu_fix = not unmarked and all(shown)
    incident.affected = [incident.affected[0], *requests]
    if unmarked:
        incident.detail += f"; not (yet) marked stuck: {unmarked}"


async def absorbed(run: Run, incident: Incident) -> None:
    """Why nothing was left waiting: every active holder of a stage's role gets the decision
    buttons, so another holder decided what this person held (counted from the ledger of
    transitions, not taken from the bot)."""
    held = incident.affected[1:]
    if incident.kind == "wf_stage_removed":
        incident.detail += "; nothing waited on them by the end of the day"
        return
    if not held:
        incident.detail += "; they held no open request"
        return
    rows = await run.db.rows(
        "SELECT t.request_id, u.telegram_id, t.created_at FROM request_transitions t JOIN "
        "users u ON u.id = t.actor_id WHERE t.from_stage IS NOT NULL AND t.action IN "
        "('approve', 'reject') AND t.request_id IN (" + ",".join(map(str, held)) + ")"
    )
    since = run.sim.start + timedelta(seconds=incident.injected_at)
    stranded = set(held) & set(await at_stage(run.world, REMOVED))
    others = {
        int(r) for r, tg, at in rows if int(tg) != incident.affected[0] and audit.when(at) >= since
    }
    incident.detail += (
        f"; no effect: another holder of the role decided {len(others)} of the {len(held)} "
        "requests they held (every active holder gets the decision buttons)"
    )
    if stranded:
        incident.detail += f"; {len(stranded)} left at the removed stage (wf_stage_removed's)"


def name(incident: Incident) -> None:
    """Where a target was missed, the mechanism that missed it."""
    if not incident.effect:
        return
    if incident.needs_person:
        if not incident.menu_fix:
            incident.missed_by = "recovery menu: not shown with its fix"
        return
    seconds = incident.recovery_seconds
    if seconds is None:
        incident.missed_by = f"{incident.mechanism}: not recovered by the end"
    elif seconds > TARGET_SECONDS:
        incident.missed_by = f"{incident.mechanism}: took {seconds:.0f} s"
