"""Handler routers, in the order the dispatcher tries them; catch-alls last."""

from aiogram import Router


def get_routers() -> list[Router]:
    from handlers import (
        admin_errors,
        admin_health,
        admin_inventory,
        admin_notifications,
        admin_recovery,
        admin_recovery_views,
        approvals,
        common,
        fallback,
        requests,
    )

    tables = [
        common.routes,
        requests.routes,
        approvals.routes,
        admin_errors.routes,
        admin_health.routes,
        admin_recovery.routes,
        admin_recovery_views.routes,
        admin_inventory.routes,
        admin_notifications.routes,
        fallback.routes,
    ]
    return [table.create_router() for table in tables]
