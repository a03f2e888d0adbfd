"""`python -m bot stuck ...`: stuck workflows and their recovery, for when Telegram is down."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from bot.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from bot.cli.paging import footer
from bot.factory import App
from core.enums import RecoveryAction, RecoveryOutcome, Role
from core.exceptions import DomainError
from services.recovery.spec import spec
from services.stuck import StuckFilter


async def stuck_command(args: argparse.Namespace, app: App) -> int:
    stuck = app.stuck
    if args.action == "list":
        selected = StuckFilter(workflow=args.workflow, stage=args.stage)
        entries, total = await stuck.page(selected, args.offset, args.limit)
        if not total:
            print("nothing is stuck")
            return EXIT_OK
        for e in entries:
            r = e.request
            flags = " ASSIGNEE GONE" if e.assignee_gone else ""
            print(
                f"#{r.id}\t{r.workflow}/{r.stage}\trequester {r.requester.display_name}\t"
                f"assignee {r.assignee.display_name if r.assignee else '-'}\t"
                f"waiting {_hours(e.waiting)} h (limit {_hours(e.threshold)} h){flags}"
            )
        print(footer(args.offset, len(entries), total))
        return EXIT_OK
    if args.action == "detect":
        detected = await stuck.detect()
        print(
            f"{detected.new} newly stuck, {detected.nudged} nudged, {detected.escalated} escalated"
        )
        return EXIT_OK
    return await stuck_request_command(args, app)


async def stuck_request_command(args: argparse.Namespace, app: App) -> int:
    settings, requests, actions, users = app.settings, app.requests, app.actions, app.users
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
    actor = next((u for u in await users.list_users() if u.telegram_id == actor_tg), None)
    if actor is None or Role.ADMIN not in actor.role_set:
        print(
            "error: say which admin acts with --as <telegram id> (a user with the admin "
            "role), or set ADMIN_IDS",
            file=sys.stderr,
        )
        return EXIT_USAGE
    action: RecoveryAction = args.recovery_action  # set by its sub-command (bot/cli/parser.py)
    target = None
    if spec(action).needs_target:
        found = next((u for u in await users.list_users() if u.telegram_id == args.to), None)
        if found is None:
            print(f"error: no user with Telegram id {args.to}", file=sys.stderr)
            return EXIT_FAILED
        target = found.id
    try:
        result = await actions.apply(
            request.id, action, actor.id, request.version, args.reason, target
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
