"""Handler routers, in the order the dispatcher tries them; catch-alls last."""

from aiogram import Router


def get_routers() -> list[Router]:
    from handlers import approvals, common, fallback, requests
    from handlers.admin import (
        error_lookup,
        health,
        inventory,
        notifications,
        recovery,
        recovery_actions,
        recovery_bulk,
        recovery_errors,
        recovery_log,
        recovery_stuck,
    )

    tables = [
        common.routes,
        requests.routes,
        approvals.routes,
        error_lookup.routes,
        health.routes,
        recovery.routes,
        recovery_stuck.routes,
        recovery_actions.routes,
        recovery_bulk.routes,
        recovery_errors.routes,
        recovery_log.routes,
        inventory.routes,
        notifications.routes,
        fallback.routes,
    ]
    return [table.create_router() for table in tables]
