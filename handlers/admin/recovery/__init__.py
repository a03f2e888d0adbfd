"""/workflow_recovery: the main menu (menu.py), the stuck requests (stuck.py), one recovery
action — choose, give a reason, confirm (action.py) — and a bulk action with its job (bulk.py).
Their shared screens are screens.py and texts.py; the action being prepared is pending.py.

Imports wait for the call, so that reading this section's texts loads no handler."""

from __future__ import annotations

from handlers.admin.confirm import Applies
from handlers.routes import RouteTable


def tables() -> tuple[RouteTable, ...]:
    from handlers.admin.recovery import action, bulk, menu, stuck

    return (menu.routes, stuck.routes, action.routes, bulk.routes)


def appliers() -> tuple[Applies, ...]:
    from handlers.admin.recovery import action, bulk

    return (*action.APPLIERS, *bulk.APPLIERS)
