"""`python -m bot users ...`: people and their roles."""

from __future__ import annotations

import argparse
import sys

from bot.cli.exits import EXIT_FAILED, EXIT_OK
from bot.cli.paging import footer
from bot.factory import App
from core.exceptions import DomainError


async def users_command(args: argparse.Namespace, app: App) -> int:
    service = app.users
    try:
        if args.action == "list":
            users, total = await service.page(args.offset, args.limit)
            if not total:
                print("no users yet: people appear here after they send /start to the bot")
                return EXIT_OK
            for user in users:
                roles = ",".join(sorted(r.value for r in user.role_set))
                state = "" if user.is_active else " (deactivated)"
                print(f"{user.telegram_id}\t{user.display_name}\t{roles}{state}")
            print(footer(args.offset, len(users), total))
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
