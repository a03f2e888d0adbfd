"""The staff screens, one package per section: recovery (/workflow_recovery), health (its
System health and /health), errors (statistics, resolve, /error), log (the recovery log),
inventory (/reconcile) and notifications (/notifications).

One router holds every section's routes and the one "Yes" handler, and carries the staff
filter; whoever fails it goes on to the refusals router, registered right after it."""

from aiogram import Router

from handlers.admin.confirm import Appliers


def appliers() -> Appliers:
    """Kind → applier, from every section: what the one "Yes" handler applies."""
    from handlers.admin import errors, health, inventory, log, notifications, recovery
    from handlers.admin.confirm import table

    return table(
        *health.APPLIERS,
        *recovery.APPLIERS,
        *errors.APPLIERS,
        *log.APPLIERS,
        *inventory.APPLIERS,
        *notifications.APPLIERS,
    )


def get_routers() -> list[Router]:
    from handlers.admin import (
        confirmations,
        errors,
        health,
        inventory,
        log,
        notifications,
        recovery,
        refusals,
    )
    from handlers.admin.access import STAFF

    staff = Router(name=__name__)
    staff.message.filter(STAFF)
    staff.callback_query.filter(STAFF)
    # The order decides what a typed step (a reason, a note, a count) takes: a command of a
    # router before it still works (/error, /health, /workflow_recovery: tried first), any other
    # text is the answer.
    tables = [
        *errors.COMMANDS,
        *health.TABLES,
        *recovery.TABLES,
        *errors.TABLES,
        *log.TABLES,
        *inventory.TABLES,
        *notifications.TABLES,
    ]
    staff.include_routers(
        *(table.create_router() for table in tables), confirmations.create_router(appliers())
    )
    return [staff, refusals.routes.create_router()]
