"""`python -m bot items import` and `python -m bot reconcile`: the inventory and its ledger."""

from __future__ import annotations

import argparse
import sys

from bot.cli.exits import EXIT_FAILED, EXIT_OK
from bot.factory import App
from core.exceptions import DomainError
from services.inventory import ImportFailed


async def items_command(args: argparse.Namespace, app: App) -> int:
    service = app.inventory
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


async def reconcile_command(args: argparse.Namespace, app: App) -> int:
    from handlers.admin.inventory.texts import report_text

    service = app.reconciliation
    try:
        if args.item is not None:
            report = await service.run_for_sku(args.item, apply=args.apply, trigger="cli")
        else:
            report = await service.run(apply=args.apply, trigger="cli")
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    with app.i18n.context(), app.i18n.use_locale("en"):
        print(report_text(report))
    if report.new_for_admin and args.apply:
        print("admins are alerted when the bot runs and delivers its outbox")
    return EXIT_OK
