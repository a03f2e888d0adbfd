"""Incidents and the report: plain data, filled by the run and the audit."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

# What a machine can fix, and by which mechanism; the rest need a person (and the menu).
MECHANISM = {
    "tg_429_burst": "outbox: waits Telegram's retry_after, then sends",
    "tg_5xx": "outbox: retry with backoff; telegram breaker",
    "tg_outage": "telegram breaker half-open probe; outbox retry; polling resumes",
    "tg_blocked": "outbox: dead with reason 'blocked', user marked unreachable",
    "db_drop": "state manager retries the transaction on a fresh connection",
    "db_outage": "database breaker half-open; error spool replay; polling resumes",
    "tg_timeout": "outbox: retry with backoff; telegram breaker; polling resumes",
    "db_lock_conflict": "state manager retries the transaction (deadlock, busy file)",
    "inv_stock_mismatch": "watch_inventory job: ledger balance differs; recompute the figure",
    "inv_orphan": "watch_inventory job: new movement of no request; reverse it",
    "inv_duplicate_issue": "watch_inventory job: line issued twice; reverse the duplicate",
    "kill_mid_drain": "outbox claim expiry; the new process sends the claimed rows",
    "kill_mid_transaction": "rollback on the dead connection; the person's update comes again",
    "kill_mid_reconciliation": "rollback; the next reconcile_inventory run redoes it",
}
NEEDS_PERSON = {
    "inv_negative_stock": "Inventory reconciliation › Open findings › Set counted quantity",
    "wf_silent_assignee": "Stuck workflows › #request › Reassign (sole holder: users grant first)",
    "wf_deactivated_assignee": "Stuck workflows › #request › Reassign",
    "wf_role_revoked": "Stuck workflows › #request › Reassign",
    "wf_stage_removed": "Stuck workflows › #request › Force complete",
}


@dataclass
class Incident:
    id: int
    kind: str
    injected_at: float  # simulated seconds since the start of the day
    duration: float = 0.0  # how long the fault lasts (0: a moment)
    detail: str = ""
    cleared_at: float | None = None
    recovered_at: float | None = None
    needs_person: bool = False
    menu_fix: bool | None = None  # shown on /workflow_recovery with its fix button
    visible_at: float | None = None  # needs a person: when the bot first showed it
    affected: list[int] = field(default_factory=list)  # request ids, item ids, chat ids
    effect: bool = True  # False: nothing the fault touched (reported, not counted)
    missed_by: str = ""

    @property
    def mechanism(self) -> str:
        return NEEDS_PERSON.get(self.kind) or MECHANISM.get(self.kind, "")

    @property
    def recovery_seconds(self) -> float | None:
        if self.recovered_at is None:
            return None
        return max(0.0, self.recovered_at - (self.cleared_at or self.injected_at))


@dataclass
class DataLost:
    updates_not_answered: int = 0
    error_records_missing: int = 0
    notifications_lost: int = 0  # neither delivered nor dead with a reason
    notifications_sent_unseen: int = 0  # marked sent with no sendMessage at the API
    ledger_rows_lost: int = 0
    missing_references: list[str] = field(default_factory=list)  # shown, never stored
    unanswered: list[str] = field(default_factory=list)  # "<moment> s <user> <kind>"

    @property
    def total(self) -> int:
        return sum(v for v in asdict(self).values() if isinstance(v, int))


@dataclass
class FalsePositives:
    stuck_marks: int = 0
    findings: int = 0
    dead_blocked: int = 0  # notifications dead as "blocked" for someone who had not blocked

    @property
    def total(self) -> int:
        return sum(asdict(self).values())


@dataclass
class Report:
    seed: int
    engine: str
    hours: float
    requests: int
    left_out: dict[str, str]
    incidents: list[Incident] = field(default_factory=list)
    data_lost: DataLost = field(default_factory=DataLost)
    false_positives: FalsePositives = field(default_factory=FalsePositives)
    duplicates_sent: int = 0
    reasked_after_redelivery: int = 0  # a reply repeated for an update Telegram sent again
    day: dict[str, int] = field(default_factory=dict)  # what the people did and got

    def by_kind(self) -> dict[str, dict[str, Any]]:
        groups: dict[str, list[Incident]] = defaultdict(list)
        for incident in self.incidents:
            groups[incident.kind].append(incident)
        out: dict[str, dict[str, Any]] = {}
        for kind, items in sorted(groups.items()):
            counted = [i for i in items if i.effect]
            times = [t for i in counted if (t := i.recovery_seconds) is not None]
            out[kind] = {
                "incidents": len(items),
                "no_effect": len(items) - len(counted),
                "needs_person": kind in NEEDS_PERSON,
                "recovered": sum(i.recovered_at is not None for i in counted),
                "on_menu_with_fix": sum(bool(i.menu_fix) for i in counted),
                "median_seconds": statistics.median(times) if times else None,
                "worst_seconds": max(times) if times else None,
                "mechanism": items[0].mechanism,
            }
        return out

    def summary(self) -> dict[str, Any]:
        machine = [i for i in self.incidents if i.effect and not i.needs_person]
        person = [i for i in self.incidents if i.effect and i.needs_person]
        fixed = [i for i in machine if i.recovered_at is not None]
        times = [t for i in fixed if (t := i.recovery_seconds) is not None]
        return {
            "incidents": len(self.incidents),
            "machine_fixable": len(machine),
            "fixed_with_no_person": len(fixed),
            "fixed_share": round(len(fixed) / len(machine), 4) if machine else 1.0,
            "worst_automatic_recovery_seconds": max(times) if times else None,
            "need_a_person": len(person),
            "on_menu_with_fix": sum(bool(i.menu_fix) for i in person),
            "data_lost": self.data_lost.total,
            "false_positives": self.false_positives.total,
            "duplicates_sent": self.duplicates_sent,
            "reasked_after_redelivery": self.reasked_after_redelivery,
            "missed": Counter(i.missed_by for i in self.incidents if i.missed_by),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "engine": self.engine,
            "hours": self.hours,
            "requests": self.requests,
            "summary": self.summary(),
            "by_kind": self.by_kind(),
            "data_lost": asdict(self.data_lost),
            "false_positives": asdict(self.false_positives),
            "duplicates_sent": self.duplicates_sent,
            "reasked_after_redelivery": self.reasked_after_redelivery,
            "day": self.day,
            "left_out": self.left_out,
            "incidents": [
                {**asdict(i), "mechanism": i.mechanism, "recovery_seconds": i.recovery_seconds}
                for i in self.incidents
            ],
        }
