"""`python -m bot notifications ...`: the outbox seen and handled from the command line."""

from __future__ import annotations

import argparse
import sys

from bot.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from bot.cli.paging import footer
from bot.factory import App
from core.enums import NotificationStatus
from core.exceptions import DomainError
from services.notification_admin import NotificationAdminService


async def notifications_command(args: argparse.Namespace, app: App) -> int:
    """Without a running bot there is no sender here: a retry makes rows due at once and the
    bot's sender delivers them within its next poll."""
    service = app.notifications
    if args.action == "stats":
        for status, count in (await service.stats()).items():
            print(f"{status.value}\t{count}")
        return EXIT_OK
    if args.action == "list":
        return await list_notifications(args, service)
    try:
        if args.action == "retry":
            if bool(args.ids) == args.all_dead:
                print("error: give notification ids or --all-dead (not both)", file=sys.stderr)
                return EXIT_USAGE
            ids = args.ids or await service.selection(NotificationStatus.DEAD, 2**62)
            if not ids:
                print("no dead notifications")
                return EXIT_OK
            retried = await service.retry(ids, None)
            print(f"{len(retried.outcomes)} notifications will be sent by the running bot now")
            in_flight(retried.in_flight)
        else:
            discarded = await service.discard(args.ids, None, args.reason)
            print(f"discarded {discarded.count} notifications")
            in_flight(discarded.in_flight)
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def in_flight(ids: list[int]) -> None:
    """Rows a sender holds were left alone: their send is under way."""
    if ids:
        shown = " ".join(str(i) for i in ids[:20]) + (" ..." if len(ids) > 20 else "")
        print(f"left alone {len(ids)} notifications being sent right now: {shown}")
        print("look again in a moment")


async def list_notifications(args: argparse.Namespace, service: NotificationAdminService) -> int:
    rows, total = await service.rows(args.status, args.offset, args.limit)
    if not total:
        print(f"no {args.status.value} notifications")
        return EXIT_OK
    for row in rows:
        error = (row.last_error or "").replace("\n", " ")[:120]
        print(
            f"{row.id}\t{row.recipient.telegram_id}\t{row.kind}\tattempts {row.attempts}\t"
            f"next {row.next_attempt_at:%Y-%m-%d %H:%M}\t"
            f"{row.dead_reason.value if row.dead_reason else '-'}\t{error}"
        )
    print(footer(args.offset, len(rows), total))
    return EXIT_OK
