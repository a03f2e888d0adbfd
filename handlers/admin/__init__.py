"""The staff screens: /workflow_recovery and its sections, /reconcile, /notifications,
/health and /error.

One router holds them all and carries the staff filter; whoever fails it goes on to the
refusals router, registered right after it."""

from aiogram import Router


def get_routers() -> list[Router]:
    from handlers.admin import (
        confirmations,
        error_lookup,
        health,
        inventory,
        inventory_count,
        notifications,
        recovery,
        recovery_actions,
        recovery_bulk,
        recovery_errors,
        recovery_log,
        recovery_stuck,
        refusals,
    )
    from handlers.admin.access import STAFF

    staff = Router(name=__name__)
    staff.message.filter(STAFF)
    staff.callback_query.filter(STAFF)
    tables = [
        error_lookup.routes,
        health.routes,
        recovery.routes,
        recovery_stuck.routes,
        recovery_actions.routes,
        recovery_bulk.routes,
        recovery_errors.routes,
        recovery_log.routes,
        inventory.routes,
        inventory_count.routes,
        notifications.routes,
        confirmations.routes,
    ]
    staff.include_routers(*(table.create_router() for table in tables))
    return [staff, refusals.routes.create_router()]
