"""After the day: what needs a person and whether the menu shows it, and the ledger of loss."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from simulators.chaos import audit
from simulators.chaos.inject import CORRUPTED_SKU, REMOVED, at_stage, holding
from simulators.chaos.menu import finding_has, stuck_request_has
from simulators.chaos.model import Incident, Report
from simulators.chaos.people import People
from simulators.chaos.world import World

TARGET_SECONDS = 120.0
MENU_CHECKS = 3  # requests of one incident looked up on the menu
WORKFLOW = ("wf_silent_assignee", "wf_deactivated_assignee", "wf_role_revoked", "wf_stage_removed")


@dataclass(frozen=True)
class DayEnd:
    """What the checks read once the day is over: the app's world (its database, clock and
    local Bot API), the people who used it, the report to fill and the stuck threshold."""

    world: World
    people: People
    report: Report
    stuck_seconds: float

    async def tick(self) -> None:
        await self.world.tick(1.0)


async def finish(end: DayEnd) -> None:
    report, db, sim, tick = end.report, end.world.db, end.world.sim, end.tick

    stuck_ok: set[int] = set()
    findings_ok: set[int] = set()
    for incident in report.incidents:
        if incident.kind.startswith("inv_"):
            findings_ok.update(incident.affected)
        if incident.kind in WORKFLOW:
            stuck_ok.update(incident.affected[1:])  # what they held when it happened
            requests = await held_by(end, incident)
            stuck_ok.update(requests)
            at_once = incident.kind in ("wf_role_revoked", "wf_stage_removed")
            fix = "Force complete" if incident.kind == "wf_stage_removed" else "Reassign"
            requests = await overdue(end, requests, at_once)
            if requests:
                await stuck_visible(end, incident, requests, fix)
            else:
                incident.effect = False
                await absorbed(end, incident)
        elif incident.kind == "inv_negative_stock":
            item = incident.affected[0]
            incident.effect = True
            rows = await db.rows(
                "SELECT MIN(created_at) FROM inventory_reconciliation_log WHERE item_id = :i",
                i=item,
            )
            if rows and rows[0][0] is not None:
                incident.visible_at = (audit.when(rows[0][0]) - sim.start).total_seconds()
            incident.menu_fix = await finding_has(end.people, tick, CORRUPTED_SKU[incident.kind])
        elif incident.kind == "tg_blocked":
            incident.effect = bool(await audit.notifications_to(db, incident.affected[0]))
        name(incident)
    blocked = {i.affected[0] for i in report.incidents if i.kind == "tg_blocked"}
    report.data_lost = await audit.data_lost(db, end.people, end.world.api)
    report.false_positives = await audit.false_positives(
        db,
        stuck_ok=stuck_ok,
        findings_ok=findings_ok,
        blocked=blocked,
        threshold_seconds=end.stuck_seconds,
    )
    report.duplicates_sent, report.reasked_after_redelivery = audit.duplicates(end.world.api)
    statuses = await db.rows("SELECT status, COUNT(*) FROM requests GROUP BY status")
    report.day = {
        "updates_sent_by_people": len(end.people.sent),
        "conversations_finished": sum(c.done for c in end.people.conversations),
        "conversations_abandoned": sum(c.gave_up for c in end.people.conversations),
        "restarts": end.world.boots - 1,
        **{f"requests_{s}": int(n) for s, n in statuses},
    }


async def held_by(end: DayEnd, incident: Incident) -> list[int]:
    """Open requests the silent or deactivated person holds at the end of the day (a removed
    stage: the open requests left at it)."""
    if incident.kind == "wf_stage_removed":
        return await at_stage(end.world, REMOVED)
    held = await holding(end.world, incident.affected[0])
    if not any(i.kind == "wf_stage_removed" for i in end.report.incidents):
        return held
    # Those left at the stage cut from the file are wf_stage_removed's (Force complete).
    stranded = set(await at_stage(end.world, REMOVED))
    return [r for r in held if r not in stranded]


async def overdue(end: DayEnd, requests: list[int], at_once: bool = False) -> list[int]:
    """Those a stuck check must have marked by now: waiting past the threshold for longer
    than the check's interval (STUCK_CHECK_MINUTES); a deactivated assignee's, or one who
    lost the stage's role (`at_once`), at once."""
    if not requests:
        return []
    rows = await end.world.db.rows(
        "SELECT r.id, r.stage_entered_at, u.is_active FROM requests r JOIN users u "
        "ON u.id = r.assignee_id WHERE r.id IN (" + ",".join(map(str, requests)) + ")"
    )
    check = end.world.settings.stuck_check_minutes * 60
    now = end.world.sim.now()
    late = end.stuck_seconds + check
    return [
        int(r)
        for r, entered, active in rows
        if at_once or not active or (now - audit.when(entered)).total_seconds() > late
    ]


async def stuck_visible(end: DayEnd, incident: Incident, requests: list[int], fix: str) -> None:
    marks = await end.world.db.rows(
        "SELECT request_id, detected_at FROM stuck_marks WHERE request_id IN ("
        + ",".join(str(r) for r in requests)
        + ")"
    )
    marked = {int(r): audit.when(at) for r, at in marks}
    if marked:
        # A mark from before the incident (overdue already) counts from the incident on.
        first = (min(marked.values()) - end.world.sim.start).total_seconds()
        incident.visible_at = max(first, incident.injected_at)
    unmarked = [r for r in requests if r not in marked]
    shown = [await stuck_request_has(end.people, end.tick, r, fix) for r in requests[:MENU_CHECKS]]
    incident.menu_fix = not unmarked and all(shown)
    incident.affected = [incident.affected[0], *requests]
    if unmarked:
        incident.detail += f"; not (yet) marked stuck: {unmarked}"


async def absorbed(end: DayEnd, incident: Incident) -> None:
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
    rows = await end.world.db.rows(
        "SELECT t.request_id, u.telegram_id, t.created_at FROM request_transitions t JOIN "
        "users u ON u.id = t.actor_id WHERE t.from_stage IS NOT NULL AND t.action IN "
        "('approve', 'reject') AND t.request_id IN (" + ",".join(map(str, held)) + ")"
    )
    since = end.world.sim.start + timedelta(seconds=incident.injected_at)
    stranded = set(held) & set(await at_stage(end.world, REMOVED))
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
