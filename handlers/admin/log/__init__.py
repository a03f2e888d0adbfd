"""The recovery log, by person or by request (view.py), reached from the /workflow_recovery
menu."""

from __future__ import annotations

from handlers.admin.confirm import Applies
from handlers.routes import RouteTable


def tables() -> tuple[RouteTable, ...]:
    from handlers.admin.log import view

    return (view.routes,)


def appliers() -> tuple[Applies, ...]:
    return ()
