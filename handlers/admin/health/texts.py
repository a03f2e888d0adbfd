"""Health in words, in the current locale: shared by the screen, /health, alerts and the CLI."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from core.enums import HealthComponent, HealthStatus
from core.i18n import N_
from core.names import category_name, component_name, health_status_name, severity_name
from services.health.model import Component, Report

STATUS_ICONS = {
    HealthStatus.HEALTHY: "🟢",
    HealthStatus.DEGRADED: "🟡",
    HealthStatus.UNHEALTHY: "🔴",
    HealthStatus.UNKNOWN: "⚪",
}
BREAKER_STATES = {
    "closed": N_("circuit closed"),
    "half_open": N_("circuit half-open, testing"),
    "open": N_("circuit open, calls paused"),
}


def rollup_line(report: Report) -> str:
    status = report.status
    failing = [c for c in report.components if c.status.rank > HealthStatus.HEALTHY.rank]
    line = _("{icon} System health: {status}.").format(
        icon=STATUS_ICONS[status], status=health_status_name(status)
    )
    if failing:
        line += " " + _("Needs attention: {components}.").format(
            components=", ".join(component_name(c.name) for c in failing)
        )
    return line


def component_line(component: Component) -> str:
    icon, name = STATUS_ICONS[component.status], component_name(component.name)
    line = f"{icon} {name}: {component_message(component)}"
    if (
        component.name == HealthComponent.SCHEDULER
        and component.status is not HealthStatus.UNKNOWN
    ):
        line += "".join("\n    · " + job_line(job) for job in component.details["jobs"])
    return line


def _hhmm(value: str | None) -> str:
    return value[11:16] if value else _("never")  # ISO timestamps in UTC: keep HH:MM


def job_line(job: dict[str, Any]) -> str:
    result = job["result"] or "-"
    if job.get("message"):  # a failed run's message, masked when it was written
        result += ": " + escape(str(job["message"]))
    if job.get("runner"):  # a job run once per interval across replicas: which one ran it
        text = _(
            "{job}: last run {last} on {runner} ({result}), next {next}, {misfires} misfire(s)"
        )
    else:
        text = _("{job}: last run {last} ({result}), next {next}, {misfires} misfire(s)")
    return text.format(
        job=job["id"],
        last=_hhmm(job["last_run"]),
        runner=escape(str(job.get("runner"))),
        result=result,
        next=_hhmm(job["next_run"]),
        misfires=job["misfires"],
    )


def component_message(c: Component) -> str:
    d: dict[str, Any] = c.details
    if d.get("error") == "database":
        return _("not checked: the database is unreachable")
    if "error" in d:
        return _("check failed ({error})").format(error=escape(str(d["error"])))
    if c.status is HealthStatus.UNKNOWN and c.name != HealthComponent.INVENTORY:
        return _("not measured here (runs inside the bot)")
    return MESSAGES[c.name](d)


def _queue(d: dict[str, Any]) -> str:
    return _("{pending} waiting, {failed} retrying, {dead} dead; oldest waits {age} min").format(
        pending=d["pending"], failed=d["retrying"], dead=d["dead"], age=d["oldest_minutes"]
    )


def _inventory(d: dict[str, Any]) -> str:
    if not d.get("available"):
        return _("inventory reconciliation is not available")
    return _("{count} open finding(s)").format(count=d["count"])


def _telegram(d: dict[str, Any]) -> str:
    breaker_state = str(d["state"])  # a plain name: the extractor would take a literal index
    state = _(BREAKER_STATES[breaker_state])
    if d.get("ms") is None:
        return _("{state}; no calls measured yet").format(state=state)
    return _("{state}; calls take {ms} ms on average").format(state=state, ms=d["ms"])


def _scheduler(d: dict[str, Any]) -> str:
    return _("{jobs} job(s), {failing} failed last time, {overdue} not running").format(
        jobs=len(d["jobs"]), failing=d["failing"], overdue=d["overdue"]
    )


def _errors(d: dict[str, Any]) -> str:
    text = _counted_errors(d)
    refusals = int(d.get("refusals", 0))  # snapshots from before refusals were apart: none
    if not refusals:
        return text
    refused = ngettext(
        "{count} refused action, not counted", "{count} refused actions, not counted", refusals
    )
    return text + "; " + refused.format(count=refusals)


def _counted_errors(d: dict[str, Any]) -> str:
    if not d["total"]:
        return _("none")
    parts = [
        "{category}/{severity}: {count}".format(
            category=category_name(row["category"]),
            severity=severity_name(row["severity"]),
            count=row["count"],
        )
        for row in sorted(d["breakdown"], key=lambda r: -int(r["count"]))
    ]
    return _("{total} ({critical} critical): {parts}").format(
        total=d["total"], critical=d["critical"], parts=", ".join(parts)
    )


MESSAGES: dict[str, Callable[[dict[str, Any]], str]] = {
    HealthComponent.DATABASE: lambda d: _("answers in {ms} ms").format(ms=d["ms"]),
    HealthComponent.TELEGRAM: _telegram,
    HealthComponent.SCHEDULER: _scheduler,
    HealthComponent.QUEUE: _queue,
    HealthComponent.ERRORS: _errors,
    HealthComponent.STUCK: lambda d: _("{count} stuck").format(count=d["count"]),
    HealthComponent.INVENTORY: _inventory,
    HealthComponent.RECOVERY: lambda d: _("{count} running of {capacity} at most").format(
        count=d["count"], capacity=d["capacity"]
    ),
}


def report_lines(report: Report) -> list[str]:
    return [rollup_line(report), *(component_line(c) for c in report.components)]
