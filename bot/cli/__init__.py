"""`python -m bot [command]`: run the bot, migrate, and the operator's tools without Telegram."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.logs import configure_logging
from core.clock import SystemClock
from core.enums import NotificationStatus, RecoveryAction, RecoveryOutcome, Role
from core.exceptions import DomainError, NotFound
from core.i18n import N_
from core.settings import ConfigError, Settings, load_settings
from core.workflows import load_workflows
from database.engine import create_engine, create_sessionmaker
from services.error_records import ErrorService
from services.failures.recorder import ErrorRecorder
from services.failures.spool import ErrorSpool
from services.inventory import ImportFailed, InventoryService
from services.notification_admin import LISTED, NotificationAdminService
from services.recovery.actions import RecoveryActions
from services.requests import RequestService
from services.retention import cleanup
from services.stuck import StuckFilter, StuckService
from services.transactions import TransactionalStateManager
from services.users import UserService
from utils.correlation import ErrorCorrelator
from utils.masking import Masker

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot", description="Workflow recovery bot and its operator tools."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="migrate the database and run the bot (the default)")
    sub.add_parser("migrate", help="bring the database schema up to date")

    users = sub.add_parser("users", help="people and their roles")
    users_sub = users.add_subparsers(dest="action", metavar="ACTION", required=True)
    users_sub.add_parser("list", help="list users with their roles")
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
    listing.add_argument("--limit", type=positive, default=20)
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
    listing.add_argument("--limit", type=positive, default=20)
    retry = notes_sub.add_parser("retry", help="send notifications again now")
    retry.add_argument("ids", nargs="*", type=positive, help="notification ids")
    retry.add_argument("--all-dead", action="store_true", help="every dead notification")
    discard = notes_sub.add_parser("discard", help="give up on notifications, with a reason")
    discard.add_argument("ids", nargs="+", type=positive, help="notification ids")
    discard.add_argument("--reason", required=True, help="why they will not be sent")
    return parser


def listed_status(text: str) -> NotificationStatus:
    try:
        status = NotificationStatus(text.lower())
    except ValueError:
        status = None
    if status not in LISTED:
        valid = ", ".join(s.value for s in LISTED)
        raise argparse.ArgumentTypeError(f"unknown status {text!r}; choose one of {valid}")
    return status


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_stuck_commands(sub: Any) -> None:
    stuck = sub.add_parser("stuck", help="stuck workflows, for when Telegram is unreachable")
    stuck_sub = stuck.add_subparsers(dest="action", metavar="ACTION", required=True)
    stuck_list = stuck_sub.add_parser("list", help="stuck requests, oldest first")
    stuck_list.add_argument("--workflow")
    stuck_list.add_argument("--stage")
    stuck_sub.add_parser("detect", help="run the stuck check now (nudges and escalations)")
    stuck_show = stuck_sub.add_parser("show", help="one request with its history")
    stuck_show.add_argument("request_id", type=positive)
    for name, text in (
        ("transition", "force the request to the next stage"),
        ("reset", "send the request back to its previous stage"),
        ("complete", "force the request to completed"),
        ("reassign", "give the request to another holder of the stage's role"),
        ("nudge", "remind the assignee"),
    ):
        cmd = stuck_sub.add_parser(name, help=text)
        cmd.add_argument("request_id", type=positive)
        cmd.add_argument("--reason", required=True, help="why (kept in the recovery log)")
        cmd.add_argument(
            "--as",
            dest="actor",
            type=telegram_id,
            help="the admin's Telegram id recorded as the actor (default: the first ADMIN_IDS)",
        )
        if name == "reassign":
            cmd.add_argument(
                "--to", type=telegram_id, required=True, help="Telegram id of the new assignee"
            )


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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings)
        return dispatch(args, settings)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (OperationalError, DBAPIError, OSError) as exc:
        print(f"error: cannot use the database: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK


def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from database.migrate import upgrade

    command = args.command or "run"
    if command == "run":
        settings.require_token()
        load_workflows(settings.workflows_file)  # refuse to start on a bad file
        upgrade(settings.database_url_value)
        from bot.runner import run_polling, run_webhook

        asyncio.run(run_webhook(settings) if settings.webhook.enabled else run_polling(settings))
        return EXIT_OK
    if command == "migrate":
        upgrade(settings.database_url_value)
        print("database is at the latest schema")
        return EXIT_OK
    if command == "health":
        # No migration first: an unreachable or outdated database is what this should report.
        return asyncio.run(health_command(settings))
    upgrade(settings.database_url_value)
    handler = {
        "users": users_command,
        "items": items_command,
        "errors": errors_command,
        "cleanup": cleanup_command,
        "stuck": stuck_command,
        "reconcile": reconcile_command,
        "notifications": notifications_command,
    }[command]
    return asyncio.run(with_database(settings, lambda s: handler(args, s)))


HEALTH_EXIT_CODES = {"healthy": 0, "degraded": 1, "unhealthy": 2}


async def health_command(settings: Settings) -> int:
    """The same roll-up as the bot's System health screen, from outside the bot: what only
    the running bot knows (Telegram latency, its jobs, recoveries in flight) reads "unknown"."""
    from core.i18n import create_i18n
    from handlers.admin.health_texts import report_lines
    from services.health.service import HealthService

    engine = create_engine(settings.database_url_value)
    try:
        sessionmaker = create_sessionmaker(engine)
        stuck = StuckService(
            sessionmaker,
            transactions(settings, sessionmaker),
            load_workflows(settings.workflows_file),
            SystemClock(),
        )
        health = HealthService(
            settings.health, sessionmaker, SystemClock(), stuck_count=stuck.count
        )
        report = await health.check()
    finally:
        await engine.dispose()
    i18n = create_i18n(settings.default_locale)
    with i18n.context(), i18n.use_locale(settings.default_locale):
        print("\n".join(report_lines(report)))
    return HEALTH_EXIT_CODES[report.status.value]


async def with_database(settings: Settings, work: Callable[[Any], Awaitable[int]]) -> int:
    engine = create_engine(settings.database_url_value)
    try:
        return await work((settings, create_sessionmaker(engine)))
    finally:
        await engine.dispose()


def transactions(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> TransactionalStateManager:
    return TransactionalStateManager(sessionmaker, SystemClock(), Masker(settings.secrets()))


async def users_command(args: argparse.Namespace, context: Any) -> int:
    settings, sessionmaker = context
    service = UserService(
        sessionmaker, transactions(settings, sessionmaker), SystemClock(), settings.admin_ids
    )
    try:
        if args.action == "list":
            users = await service.list_users()
            if not users:
                print("no users yet: people appear here after they send /start to the bot")
            for user in users:
                roles = ",".join(sorted(r.value for r in user.role_set))
                state = "" if user.is_active else " (deactivated)"
                print(f"{user.telegram_id}\t{user.display_name}\t{roles}{state}")
            return EXIT_OK
        if args.action == "grant":
            user = await service.grant(args.telegram_id, args.role)
            print(f"{args.telegram_id} now has roles: {', '.join(sorted(user.role_set))}")
        elif args.action == "revoke":
            user = await service.revoke(args.telegram_id, args.role)
            print(f"{args.telegram_id} now has roles: {', '.join(sorted(user.role_set))}")
        else:
            await service.set_active(args.telegram_id, args.action == "activate")
            print(f"{args.telegram_id} is {args.action}d")
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


async def items_command(args: argparse.Namespace, context: Any) -> int:
    settings, sessionmaker = context
    service = InventoryService(sessionmaker, transactions(settings, sessionmaker), SystemClock())
    try:
        result = await service.import_file(args.file)
    except ImportFailed as exc:
        print(f"error: nothing was imported from {args.file}:", file=sys.stderr)
        for line in exc.errors:
            print(f"  {line}", file=sys.stderr)
        return EXIT_FAILED
    print(f"imported {args.file}: {result.created} new, {result.updated} updated items")
    for sku, delta in result.stock_changes:
        print(f"  {sku}: stock {delta:+d}")
    return EXIT_OK


async def errors_command(args: argparse.Namespace, context: Any) -> int:
    settings, sessionmaker = context
    service = ErrorService(sessionmaker, transactions(settings, sessionmaker), SystemClock())
    if args.action == "list":
        records = await service.recent(args.limit, unresolved=not args.all)
        if not records:
            print("no errors recorded" if args.all else "no open errors")
        for r in records:
            state = "resolved" if r.resolved_at else "open"
            print(
                f"{r.reference}\t{r.category.value}/{r.severity.value}\t{r.count}x\t"
                f"last {r.last_seen:%Y-%m-%d %H:%M}\t{state}\t{r.handler}\t"
                f"{r.exception_type.rsplit('.', 1)[-1]}"
            )
        return EXIT_OK
    if args.action == "flush-spool":
        recorder = ErrorRecorder(
            sessionmaker,
            SystemClock(),
            Masker(settings.secrets()),
            ErrorSpool(settings.error.spool_path),
            ErrorCorrelator(),
            alert_window=timedelta(minutes=settings.error.alert_window_minutes),
        )
        print(f"wrote {await recorder.flush_spool()} spooled error records")
        return EXIT_OK
    try:
        if args.action == "show":
            record = await service.find(args.reference)
            if record is None:
                raise NotFound(
                    N_("No error with reference {reference}."), reference=args.reference
                )
        else:
            record = await service.resolve(args.reference, None, args.note)
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{record.reference}: {record.category.value}, severity {record.severity.value}")
    print(f"where: {record.handler}")
    print(f"what: {record.exception_type}: {record.message}")
    print(
        f"seen {record.count} time(s), first {record.first_seen:%Y-%m-%d %H:%M:%S}, "
        f"last {record.last_seen:%Y-%m-%d %H:%M:%S} UTC; automatic recoveries: "
        f"{record.retry_count}"
    )
    if record.resolved_at:
        print(f"resolved {record.resolved_at:%Y-%m-%d %H:%M:%S}: {record.resolution_note}")
    if record.context:
        print(f"context: {record.context}")
    if args.action == "show" and record.stack_trace:
        print(record.stack_trace)
    return EXIT_OK


async def cleanup_command(args: argparse.Namespace, context: Any) -> int:
    settings, sessionmaker = context
    result = await cleanup(
        sessionmaker,
        SystemClock(),
        error_retention=timedelta(days=settings.error.retention_days),
        transaction_log_retention=timedelta(days=settings.transaction_log_retention_days),
        snapshot_retention=timedelta(days=settings.health.snapshot_retention_days),
    )
    print(
        f"deleted {result.error_records} resolved error records, "
        f"{result.transaction_log} transaction log rows and "
        f"{result.health_snapshots} health snapshots"
    )
    return EXIT_OK


STUCK_ACTIONS = {
    "transition": RecoveryAction.FORCE_TRANSITION,
    "reset": RecoveryAction.RESET,
    "complete": RecoveryAction.FORCE_COMPLETE,
    "reassign": RecoveryAction.REASSIGN,
    "nudge": RecoveryAction.NUDGE,
}


async def stuck_command(args: argparse.Namespace, context: Any) -> int:
    settings, sessionmaker = context
    clock = SystemClock()
    tx = transactions(settings, sessionmaker)
    workflows = load_workflows(settings.workflows_file)
    stuck = StuckService(sessionmaker, tx, workflows, clock)
    if args.action == "list":
        entries = await stuck.all(StuckFilter(workflow=args.workflow, stage=args.stage))
        if not entries:
            print("nothing is stuck")
        for e in entries:
            r = e.request
            flags = " ASSIGNEE GONE" if e.assignee_gone else ""
            print(
                f"#{r.id}\t{r.workflow}/{r.stage}\trequester {r.requester.display_name}\t"
                f"assignee {r.assignee.display_name if r.assignee else '-'}\t"
                f"waiting {_hours(e.waiting)} h (limit {_hours(e.threshold)} h){flags}"
            )
        return EXIT_OK
    if args.action == "detect":
        detected = await stuck.detect()
        print(
            f"{detected.new} newly stuck, {detected.nudged} nudged, {detected.escalated} escalated"
        )
        return EXIT_OK
    return await stuck_request_command(args, settings, sessionmaker)


async def stuck_request_command(
    args: argparse.Namespace, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> int:
    clock = SystemClock()
    tx = transactions(settings, sessionmaker)
    workflows = load_workflows(settings.workflows_file)
    requests = RequestService(sessionmaker, tx, workflows, clock, settings.max_quantity)
    actions = RecoveryActions(sessionmaker, tx, workflows, clock)
    request = await requests.get(args.request_id)
    if request is None:
        print(f"error: request #{args.request_id} does not exist", file=sys.stderr)
        return EXIT_FAILED
    if args.action == "show":
        assignee = request.assignee.display_name if request.assignee else "-"
        print(
            f"#{request.id} {request.status.value} at {request.stage or '-'} "
            f"(workflow {request.workflow}), assignee {assignee}, version {request.version}, "
            f"in stage since {request.stage_entered_at:%Y-%m-%d %H:%M} UTC"
        )
        for t in await requests.history(request.id):
            print(
                f"  {t.created_at:%Y-%m-%d %H:%M} {t.action.value}: "
                f"{t.from_stage or '-'} -> {t.to_stage or t.to_status.value}"
                + (f" ({t.reason})" if t.reason else "")
            )
        print(
            "possible actions: "
            + (", ".join(a.value for a in actions.available(request)) or "none")
        )
        return EXIT_OK
    actor_tg = args.actor or (settings.admin_ids[0] if settings.admin_ids else None)
    users = UserService(sessionmaker, tx, clock, settings.admin_ids)
    actor = next((u for u in await users.list_users() if u.telegram_id == actor_tg), None)
    if actor is None or Role.ADMIN not in actor.role_set:
        print(
            "error: say which admin acts with --as <telegram id> (a user with the admin "
            "role), or set ADMIN_IDS",
            file=sys.stderr,
        )
        return EXIT_USAGE
    target = None
    if args.action == "reassign":
        found = next((u for u in await users.list_users() if u.telegram_id == args.to), None)
        if found is None:
            print(f"error: no user with Telegram id {args.to}", file=sys.stderr)
            return EXIT_FAILED
        target = found.id
    try:
        result = await actions.apply(
            request.id, STUCK_ACTIONS[args.action], actor.id, request.version, args.reason, target
        )
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    after = result.request
    print(
        f"{result.outcome.value}: #{request.id} is now "
        + (f"{after.status.value} at {after.stage or '-'}" if after else "gone")
    )
    return EXIT_OK if result.outcome is RecoveryOutcome.APPLIED else EXIT_FAILED


def _hours(delta: timedelta) -> int:
    return int(delta.total_seconds() // 3600)


async def reconcile_command(args: argparse.Namespace, context: Any) -> int:
    from core.i18n import create_i18n
    from handlers.admin.inventory_texts import report_text
    from services.reconciliation.service import ReconciliationService

    settings, sessionmaker = context
    clock = SystemClock()
    service = ReconciliationService(
        sessionmaker,
        sessionmaker.kw["bind"],
        transactions(settings, sessionmaker),
        clock,
        pending_max_age=timedelta(hours=settings.reconciliation.pending_max_age_hours),
    )
    try:
        if args.item is not None:
            report = await service.run_for_sku(args.item, apply=args.apply, trigger="cli")
        else:
            report = await service.run(apply=args.apply, trigger="cli")
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    i18n = create_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        print(report_text(report))
    if report.new_for_admin and args.apply:
        print("admins are alerted when the bot runs and delivers its outbox")
    return EXIT_OK


async def notifications_command(args: argparse.Namespace, context: Any) -> int:
    """Without a running bot there is no sender here: a retry makes rows due at once and the
    bot's sender delivers them within its next poll."""
    settings, sessionmaker = context
    service = NotificationAdminService(
        sessionmaker, transactions(settings, sessionmaker), SystemClock(), None
    )
    if args.action == "stats":
        for status, count in (await service.stats()).items():
            print(f"{status.value}\t{count}")
        return EXIT_OK
    if args.action == "list":
        page = await service.page(args.status, 0, args.limit)
        if not page.rows:
            print(f"no {args.status.value} notifications")
        for row in page.rows:
            error = (row.last_error or "").replace("\n", " ")[:120]
            print(
                f"{row.id}\t{row.recipient.telegram_id}\t{row.kind}\tattempts {row.attempts}\t"
                f"next {row.next_attempt_at:%Y-%m-%d %H:%M}\t"
                f"{row.dead_reason.value if row.dead_reason else '-'}\t{error}"
            )
        if page.total > len(page.rows):
            print(f"... {page.total - len(page.rows)} more (use --limit)")
        return EXIT_OK
    try:
        if args.action == "retry":
            if bool(args.ids) == args.all_dead:
                print("error: give notification ids or --all-dead (not both)", file=sys.stderr)
                return EXIT_USAGE
            ids = args.ids or await service.selection(NotificationStatus.DEAD, 2**62)
            if not ids:
                print("no dead notifications")
                return EXIT_OK
            outcomes = await service.retry(ids, None)
            print(f"{len(outcomes)} notifications will be sent by the running bot now")
        else:
            count = await service.discard(args.ids, None, args.reason)
            print(f"discarded {count} notifications")
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
