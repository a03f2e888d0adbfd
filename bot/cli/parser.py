"""The command line's arguments: every command, and a clear error for every bad value."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.cli.paging import add_paging, positive
from core.enums import ACTIONABLE_STATUSES as LISTED
from core.enums import NotificationStatus, Role
from services.recovery.spec import SPECS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Workflow recovery bot and its operator tools."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="migrate the database and run the bot (the default)")
    sub.add_parser("migrate", help="bring the database schema up to date")
    add_sandbox_command(sub)

    users = sub.add_parser("users", help="people and their roles")
    users_sub = users.add_subparsers(dest="action", metavar="ACTION", required=True)
    add_paging(users_sub.add_parser("list", help="list users with their roles"))
    roles = ", ".join(r.value for r in Role)
    for action, text in (("grant", "give a role"), ("revoke", "take a role away")):
        cmd = users_sub.add_parser(action, help=f"{text} ({roles})")
        cmd.add_argument("telegram_id", type=telegram_id, help="the person's Telegram user id")
        cmd.add_argument("role", type=role, help=roles)
    for action, text in (
        ("deactivate", "stop a person from using the bot"),
        ("activate", "let a deactivated person back in"),
    ):
        cmd = users_sub.add_parser(action, help=text)
        cmd.add_argument("telegram_id", type=telegram_id)

    items = sub.add_parser("items", help="inventory items")
    items_sub = items.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = items_sub.add_parser(
        "import", help="create or update items from a CSV file (columns sku,name[,unit][,stock])"
    )
    imp.add_argument("file", type=Path)

    errors = sub.add_parser("errors", help="error records: what people's reference codes mean")
    errors_sub = errors.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = errors_sub.add_parser("list", help="the most recent open errors")
    listing.add_argument("--all", action="store_true", help="include resolved ones")
    add_paging(listing)
    show = errors_sub.add_parser("show", help="one error by its reference code")
    show.add_argument("reference")
    resolve = errors_sub.add_parser("resolve", help="mark an error resolved")
    resolve.add_argument("reference")
    resolve.add_argument("--note", required=True, help="what was done about it")
    errors_sub.add_parser(
        "flush-spool", help="write error records spooled while the database was down"
    )
    sub.add_parser(
        "cleanup",
        help="delete resolved errors, transaction logs and health snapshots past retention",
    )
    sub.add_parser(
        "health",
        help="print the health roll-up; exit code 0 healthy, 1 degraded, 2 unhealthy",
    )

    add_stuck_commands(sub)
    add_chaos_command(sub)
    reconcile = sub.add_parser(
        "reconcile",
        help="check stock against the ledger (a dry run unless --apply)",
        description="Find stock discrepancies; with --apply fix the safe ones and log them.",
    )
    reconcile.add_argument(
        "--apply", action="store_true", help="apply the safe fixes (default: only report)"
    )
    reconcile.add_argument("--item", metavar="SKU", help="check only the item with this SKU")
    notes = sub.add_parser("notifications", help="the notification queue: look, retry, discard")
    notes_sub = notes.add_subparsers(dest="action", metavar="ACTION", required=True)
    notes_sub.add_parser("stats", help="how many notifications are in each state")
    listing = notes_sub.add_parser("list", help="notifications in one state, oldest first")
    listing.add_argument("--status", type=listed_status, default=NotificationStatus.DEAD)
    add_paging(listing)
    retry = notes_sub.add_parser("retry", help="send notifications again now")
    retry.add_argument("ids", nargs="*", type=positive, help="notification ids")
    retry.add_argument("--all-dead", action="store_true", help="every dead notification")
    discard = notes_sub.add_parser("discard", help="give up on notifications, with a reason")
    discard.add_argument("ids", nargs="+", type=positive, help="notification ids")
    discard.add_argument("--reason", required=True, help="why they will not be sent")
    return parser


def add_sandbox_command(sub: Any) -> None:
    sandbox = sub.add_parser(
        "sandbox",
        help="try the bot without Telegram: a web chat in the browser plays it for several people",
        description="The real bot on a local Bot API server in this process, with a web page "
        "that plays Telegram for an employee, a manager, a storekeeper, support and an admin. "
        "Its data lives in its own folder; it never talks to Telegram.",
    )
    sandbox.add_argument("--empty", action="store_true", help="start without the demo data")
    sandbox.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine)",
    )
    sandbox.add_argument(
        "--port", type=port, default=8090, help="port of the page and the local Bot API (8090)"
    )
    sandbox.add_argument(
        "--data",
        type=Path,
        default=Path("data/sandbox"),
        help="the sandbox's own folder: database, clock (default data/sandbox)",
    )


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is a number from 0 to 65535 (0: any free one)")
    return value


def add_chaos_command(sub: Any) -> None:
    chaos = sub.add_parser(
        "chaos",
        help="a simulated working day with seeded faults: what recovered by itself",
        description="Run the real bot on a simulated clock against a local Bot API and a "
        "scratch database (SQLite, or a new database beside DATABASE_URL's PostgreSQL), "
        "inject seeded faults and report what recovered, how fast, and what needs a person.",
    )
    chaos.add_argument("--seed", type=int, default=1, help="the same seed gives the same run")
    chaos.add_argument("--requests", type=positive, default=120, help="requests in the day")
    chaos.add_argument("--hours", type=hours, default=8.0, help="length of the day (1-24)")
    chaos.add_argument("--json", type=Path, metavar="PATH", help="also write the report here")


def hours(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of hours") from None
    if not 1 <= value <= 24:
        raise argparse.ArgumentTypeError("the day lasts from 1 to 24 hours")
    return value


def listed_status(text: str) -> NotificationStatus:
    try:
        status = NotificationStatus(text.lower())
    except ValueError:
        status = None
    if status not in LISTED:
        valid = ", ".join(s.value for s in LISTED)
        raise argparse.ArgumentTypeError(f"unknown status {text!r}; choose one of {valid}")
    return status


def add_stuck_commands(sub: Any) -> None:
    stuck = sub.add_parser("stuck", help="stuck workflows, for when Telegram is unreachable")
    stuck_sub = stuck.add_subparsers(dest="action", metavar="ACTION", required=True)
    stuck_list = stuck_sub.add_parser("list", help="stuck requests, oldest first")
    stuck_list.add_argument("--workflow")
    stuck_list.add_argument("--stage")
    add_paging(stuck_list)
    stuck_sub.add_parser("detect", help="run the stuck check now (nudges and escalations)")
    stuck_show = stuck_sub.add_parser("show", help="one request with its history")
    stuck_show.add_argument("request_id", type=positive)
    # One sub-command per recovery action that has one (services/recovery/spec.py).
    for action, row in SPECS.items():
        if row.command is None:
            continue
        cmd = stuck_sub.add_parser(row.command.name, help=row.command.help)
        cmd.add_argument("request_id", type=positive)
        cmd.add_argument("--reason", required=True, help="why (kept in the recovery log)")
        cmd.add_argument(
            "--as",
            dest="actor",
            type=telegram_id,
            help="the admin's Telegram id recorded as the actor (default: the first ADMIN_IDS)",
        )
        if row.needs_target:
            cmd.add_argument(
                "--to", type=telegram_id, required=True, help="Telegram id of the new assignee"
            )
        cmd.set_defaults(recovery_action=action)


def telegram_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a numeric Telegram user id") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("a Telegram user id is a positive number")
    return value


def role(text: str) -> Role:
    try:
        return Role(text.lower())
    except ValueError:
        valid = ", ".join(r.value for r in Role)
        raise argparse.ArgumentTypeError(f"unknown role {text!r}; choose one of {valid}") from None
