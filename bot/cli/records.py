"""`python -m bot errors ...` and `python -m bot cleanup`: error records and retention."""

from __future__ import annotations

import argparse
import sys

from bot.cli.exits import EXIT_FAILED, EXIT_OK
from bot.cli.paging import footer
from bot.factory import App
from core.exceptions import DomainError, NotFound
from core.i18n import N_
from services.retention import cleanup_as_configured


async def errors_command(args: argparse.Namespace, app: App) -> int:
    service = app.errors
    if args.action == "list":
        records, total = await service.page(args.offset, args.limit, unresolved=not args.all)
        if not total:
            print("no errors recorded" if args.all else "no open errors")
            return EXIT_OK
        for r in records:
            state = "resolved" if r.resolved_at else "open"
            print(
                f"{r.reference}\t{r.category.value}/{r.severity.value}\t{r.count}x\t"
                f"last {r.last_seen:%Y-%m-%d %H:%M}\t{state}\t{r.handler}\t"
                f"{r.exception_type.rsplit('.', 1)[-1]}"
            )
        print(footer(args.offset, len(records), total))
        return EXIT_OK
    if args.action == "flush-spool":
        print(f"wrote {await app.recorder.flush_spool()} spooled error records")
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


async def cleanup_command(args: argparse.Namespace, app: App) -> int:
    result = await cleanup_as_configured(app.tx, app.settings)
    print(f"deleted {result.summary()}")
    return EXIT_OK
