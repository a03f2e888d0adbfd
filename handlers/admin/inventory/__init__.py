"""Inventory reconciliation: /reconcile, its preview, apply, findings and history
(reconcile.py), and the manual count (count.py); texts.py is shared with the command line."""

from __future__ import annotations

from handlers.admin.confirm import Applies
from handlers.routes import RouteTable


def tables() -> tuple[RouteTable, ...]:
    from handlers.admin.inventory import count, reconcile

    return (reconcile.routes, count.routes)


def appliers() -> tuple[Applies, ...]:
    from handlers.admin.inventory import count, reconcile

    return (*reconcile.APPLIERS, *count.APPLIERS)
