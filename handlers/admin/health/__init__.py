"""System health: the screen of the /workflow_recovery menu and /health (screen.py); texts.py
is shared with the health alerts and the command line."""

from __future__ import annotations

from handlers.admin.confirm import Applies
from handlers.routes import RouteTable


def tables() -> tuple[RouteTable, ...]:
    from handlers.admin.health import screen

    return (screen.routes,)


def appliers() -> tuple[Applies, ...]:
    return ()
