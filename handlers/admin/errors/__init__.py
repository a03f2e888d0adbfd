"""Errors: the statistics, one record and marking it resolved (records.py, reached from the
/workflow_recovery menu), and /error CODE (lookup.py)."""

from __future__ import annotations

from handlers.admin.confirm import Applies
from handlers.routes import RouteTable


def tables() -> tuple[RouteTable, ...]:
    from handlers.admin.errors import lookup, records

    return (lookup.routes, records.routes)


def appliers() -> tuple[Applies, ...]:
    from handlers.admin.errors import records

    return records.APPLIERS
